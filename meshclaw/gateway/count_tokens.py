"""`POST /v1/messages/count_tokens`: Anthropic's token counting, passed through to the provider that serves
the model. Not a model call (the provider bills nothing for it), so it is neither admitted nor metered;
Claude Code and the anthropic SDK call it when pointed at the gateway."""

from __future__ import annotations

from starlette.types import Send

from meshclaw.gateway.apis import APIS
from meshclaw.gateway.calls import parse_request, response_headers, route_model, scrub_key
from meshclaw.gateway.errors import GatewayError
from meshclaw.gateway.request import ClientRequest
from meshclaw.gateway.runtime import Gateway
from meshclaw.gateway.upstream import UpstreamError, UpstreamTimeout

PATH = "/v1/messages/count_tokens"


async def count_tokens(gateway: Gateway, client: ClientRequest, send: Send) -> None:
    await gateway.keys.authenticate(client.secret)
    messages = APIS["/v1/messages"]
    _, provider = route_model(gateway, messages, parse_request(client.body))
    headers = messages.upstream_headers(
        provider, anthropic_version=client.anthropic_version, anthropic_beta=client.anthropic_beta
    )
    try:
        upstream = await gateway.upstream.post(
            messages.upstream_url(provider) + "/count_tokens", client.body, headers
        )
        try:
            data = await upstream.read()
        finally:
            upstream.release()
    except UpstreamTimeout:
        raise GatewayError(
            504, f"the provider '{provider.name}' did not answer in time", code="upstream_timeout"
        ) from None
    except UpstreamError as error:
        raise GatewayError(
            502, f"could not reach the provider '{provider.name}': {error}", code="upstream_unreachable"
        ) from None
    if upstream.status != 200:
        data = scrub_key(data, provider)
    answer = response_headers(upstream)
    answer.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": upstream.status, "headers": answer})
    await send({"type": "http.response.body", "body": data})
