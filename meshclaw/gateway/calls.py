"""One model call through the gateway: authenticate, parse once, route, admit, forward, relay, meter.

The request body is parsed once with orjson and forwarded as the client's own bytes unless the gateway
must change it (asking an OpenAI chat stream for its usage). Every call that reaches the forwarding step
is metered exactly once by `CallMeter`; requests refused before it (bad key, bad JSON, unknown model, a
limit) never reached a provider and are not usage.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.types import Receive, Send

from meshclaw.gateway.apis import Api, wrong_kind_message
from meshclaw.gateway.errors import GatewayError
from meshclaw.gateway.meter import CallMeter
from meshclaw.gateway.prompt import request_prompt_hash
from meshclaw.gateway.request import ClientRequest
from meshclaw.gateway.run_credentials import PREFIX as RUN_PREFIX
from meshclaw.gateway.run_credentials import Caller
from meshclaw.gateway.runtime import Gateway
from meshclaw.gateway.streams import EventSplitter, StreamWatcher, watcher_for
from meshclaw.gateway.upstream import Response, UpstreamError, UpstreamTimeout
from meshclaw.limits.admission import LimitExceeded, Subject
from meshclaw.metering.events import TokenBuckets
from meshclaw.providers.registry import ProviderConfig

DEFAULT_OUTPUT_RESERVE = 4096
"""Output tokens reserved against budgets when the request sets no cap."""

_PASSED_HEADERS = (b"content-type", b"retry-after", b"x-request-id", b"request-id", b"openai-processing-ms")
_PASSED_PREFIXES = (b"x-ratelimit-", b"anthropic-ratelimit-")


def parse_request(body: bytes) -> dict[str, Any]:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise GatewayError(400, f"the request body is not valid JSON: {error}", code="invalid_json") from None
    if not isinstance(request, dict):
        raise GatewayError(400, "the request body must be a JSON object", code="invalid_json")
    return request


def route_model(gateway: Gateway, api: Api, request: dict[str, Any]) -> tuple[str, ProviderConfig]:
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise GatewayError(
            400, "the request has no 'model'; name one of GET /v1/models", code="missing_model"
        )
    provider = gateway.routes().provider_for(model)
    if provider is None:
        raise GatewayError(
            404,
            f"the model '{model}' does not exist or is not served by this gateway; GET /v1/models lists the "
            "models you can use (an admin adds them with `meshclaw providers add`)",
            code="model_not_found",
        )
    if provider.kind not in api.kinds:
        raise GatewayError(400, wrong_kind_message(api, model, provider), code="wrong_api_for_model")
    return model, provider


def _reserve(api: Api, request: dict[str, Any], body: bytes) -> tuple[int, int]:
    """(input, output) tokens to reserve: about 4 bytes a token for the input, the output cap asked for."""
    output = 0
    if api.output_fields:
        output = DEFAULT_OUTPUT_RESERVE
        for name in api.output_fields:
            value = request.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                output = value
                break
    return len(body) // 4, output


def response_headers(upstream: Response) -> list[tuple[bytes, bytes]]:
    return [
        (name, value)
        for name, value in upstream.headers
        if name in _PASSED_HEADERS or name.startswith(_PASSED_PREFIXES)
    ]


def scrub_key(body: bytes, provider: ProviderConfig) -> bytes:
    """Upstream error bodies may echo the key they were sent; never pass a provider key on."""
    key = provider.api_key()
    if key and key.encode() in body:
        return body.replace(key.encode(), b"***")
    return body


def _upstream_error(body: bytes, status: int) -> str:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"upstream answered {status}"
    error = parsed.get("error") if isinstance(parsed, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return f"upstream answered {status}: {message}" if message else f"upstream answered {status}"


async def authenticate(gateway: Gateway, secret: str | None) -> Caller:
    """A MeshClaw API key with the gateway scope, or the credential of one of MeshClaw's own agent runs."""
    if secret is not None and secret.startswith(RUN_PREFIX):
        return gateway.run_credentials.verify(secret)
    key = await gateway.keys.authenticate(secret)
    return Caller(user_id=key.user_id, team_id=key.team_id, api_key_id=key.key_id)


async def model_call(gateway: Gateway, api: Api, client: ClientRequest, receive: Receive, send: Send) -> None:
    caller = await authenticate(gateway, client.secret)
    request = parse_request(client.body)
    model, provider = route_model(gateway, api, request)
    body = client.body
    stream = api.streams and request.get("stream") is True
    hide_usage = False
    if stream and api.name == "chat.completions":
        options = request.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage") is True):
            hide_usage = True
            request["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }
            body = orjson.dumps(request)

    # Everything that could fail on odd input happens before admission: once admitted, the reservation
    # must be settled, which only the metered call below guarantees.
    prompt = request_prompt_hash(api.operation, request)
    now = gateway.clock.now()
    reserve_in, reserve_out = _reserve(api, request, body)
    recorder = gateway.recorder()
    estimate = recorder.cost_microusd(model, TokenBuckets(input_uncached=reserve_in, output=reserve_out), now)
    subject = Subject(
        api_key_id=caller.api_key_id, user_id=caller.user_id, team_id=caller.team_id, agent_id=caller.agent_id
    )
    try:
        ticket = gateway.limiter().admit(
            subject, reserve_tokens=reserve_in + reserve_out, reserve_cost_microusd=estimate, now=now
        )
    except LimitExceeded as refused:
        code = "rate_limit_exceeded" if refused.rate_limit else "budget_exceeded"
        retry = str(refused.retry_after_s).encode()
        raise GatewayError(429, refused.message, code=code, headers=((b"retry-after", retry),)) from None

    meter = CallMeter(
        api=api,
        provider=provider.name,
        requested_model=model,
        caller=caller,
        client=client.user_agent,
        prompt_hash=prompt,
        stream=stream,
        started_at=now,
        ticket=ticket,
        recorder=recorder,
        clock=gateway.clock,
    )
    try:
        await _forward(gateway, api, provider, client, body, meter, stream, hide_usage, receive, send)
    finally:
        meter.finish()


async def _forward(
    gateway: Gateway,
    api: Api,
    provider: ProviderConfig,
    client: ClientRequest,
    body: bytes,
    meter: CallMeter,
    stream: bool,
    hide_usage: bool,
    receive: Receive,
    send: Send,
) -> None:
    headers = api.upstream_headers(
        provider, anthropic_version=client.anthropic_version, anthropic_beta=client.anthropic_beta
    )
    try:
        upstream = await gateway.upstream.post(api.upstream_url(provider), body, headers)
    except UpstreamTimeout:
        meter.fail(504, f"provider '{provider.name}' did not answer in time")
        raise GatewayError(
            504, f"the provider '{provider.name}' did not answer in time", code="upstream_timeout"
        ) from None
    except UpstreamError as error:
        meter.fail(502, f"provider '{provider.name}': {error}")
        raise GatewayError(
            502, f"could not reach the provider '{provider.name}': {error}", code="upstream_unreachable"
        ) from None
    try:
        if stream and upstream.status == 200:
            await _relay_stream(api, upstream, meter, hide_usage, receive, send)
        else:
            await _relay_body(provider, upstream, meter, send)
    finally:
        upstream.release()


async def _relay_body(provider: ProviderConfig, upstream: Response, meter: CallMeter, send: Send) -> None:
    try:
        data = await upstream.read()
    except UpstreamTimeout:
        meter.fail(504, f"provider '{provider.name}' did not finish its answer in time")
        raise GatewayError(
            504, f"the provider '{provider.name}' did not answer in time", code="upstream_timeout"
        ) from None
    except UpstreamError as error:
        meter.fail(502, f"provider '{provider.name}' broke off its answer: {error}")
        raise GatewayError(
            502, f"the provider '{provider.name}' broke off its answer", code="upstream_unreachable"
        ) from None
    status = upstream.status
    if status == 200:
        try:
            answer = orjson.loads(data)
        except orjson.JSONDecodeError:
            answer = None
        if isinstance(answer, dict):
            usage = answer.get("usage")
            meter.usage = usage if isinstance(usage, dict) else None
            returned = answer.get("model")
            meter.model = returned if isinstance(returned, str) else None
        else:
            meter.fail(200, "the provider's answer is not a JSON object")
    else:
        data = scrub_key(data, provider)
        meter.fail(status, _upstream_error(data, status))
    # Metered before the client has the answer, so an answer a client received is always in the journal.
    meter.finish()
    headers = response_headers(upstream)
    headers.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _relay_stream(
    api: Api,
    upstream: Response,
    meter: CallMeter,
    hide_usage: bool,
    receive: Receive,
    send: Send,
) -> None:
    watcher = watcher_for(api.name, hide_usage=hide_usage)
    splitter = EventSplitter()
    # The body is read; receive() now returns only when the client hangs up.
    hung_up = asyncio.ensure_future(receive())
    try:
        await send({"type": "http.response.start", "status": 200, "headers": response_headers(upstream)})
        try:
            async for chunk in upstream.chunks():
                if hung_up.done():
                    # Returning unfinished closes the provider connection (release()), which stops the
                    # provider generating what nobody will read.
                    meter.fail(499, "the client disconnected mid-stream", status="cancelled")
                    return
                out = [kept for event in splitter.feed(chunk) if (kept := watcher.see(event)) is not None]
                if watcher.completed:
                    # Metered before the last event goes out, so a client that saw the end is in the journal.
                    _conclude(meter, watcher)
                    meter.finish()
                if out:
                    await send(
                        {"type": "http.response.body", "body": b"\n\n".join(out) + b"\n\n", "more_body": True}
                    )
        except UpstreamTimeout:
            meter.fail(504, "the provider stopped sending mid-stream (timeout)")
        except UpstreamError as error:
            meter.fail(502, f"the provider broke off the stream: {error}")
        rest = splitter.rest()
        if rest:
            kept = watcher.see(rest)
            if kept:
                await send({"type": "http.response.body", "body": kept, "more_body": True})
        _conclude(meter, watcher)
        meter.finish()
        await send({"type": "http.response.body", "body": b""})
    finally:
        hung_up.cancel()
        _conclude(meter, watcher)


def _conclude(meter: CallMeter, watcher: StreamWatcher) -> None:
    meter.usage = watcher.usage
    meter.model = watcher.model
    if meter.status == "ok":
        if watcher.error:
            meter.fail(200, f"the provider reported an error mid-stream: {watcher.error}")
        elif not watcher.completed:
            meter.fail(200, "the provider's stream ended before it was complete")
