"""The model APIs the gateway serves: path, upstream path, error style, which provider kinds speak it,
how its usage is counted and which request field caps the output (for the budget reservation).

The gateway forwards each API to a provider that speaks it natively; it does not translate between the
OpenAI and Anthropic APIs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from meshclaw.gateway.errors import Style
from meshclaw.metering.events import TokenBuckets
from meshclaw.metering.normalize import from_anthropic, from_openai
from meshclaw.providers.registry import ProviderConfig, ProviderKind

ApiName = Literal["chat.completions", "responses", "embeddings", "messages"]

ANTHROPIC_VERSION = "2023-06-01"
"""Sent upstream when the client did not say which Messages API version it speaks."""
_OPENAI_KINDS = frozenset({ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE})


@dataclass(frozen=True, slots=True, kw_only=True)
class Api:
    name: ApiName
    path: str
    operation: str
    """UsageEvent.operation: chat, responses, embeddings, messages."""
    style: Style
    kinds: frozenset[ProviderKind]
    output_fields: tuple[str, ...]
    """Request fields that cap output tokens, first found wins; none for embeddings."""
    streams: bool
    buckets: Callable[[Mapping[str, Any]], TokenBuckets]

    def upstream_headers(
        self, provider: ProviderConfig, *, anthropic_version: str | None, anthropic_beta: str | None
    ) -> dict[str, str]:
        """The provider's own key (from its environment variable), never the client's."""
        headers = {"content-type": "application/json", "accept-encoding": "identity"}
        key = provider.api_key()
        if self.style == "anthropic":
            headers["anthropic-version"] = anthropic_version or ANTHROPIC_VERSION
            if anthropic_beta:
                headers["anthropic-beta"] = anthropic_beta
            if key:
                headers["x-api-key"] = key
        elif key:
            headers["authorization"] = f"Bearer {key}"
        return headers

    def upstream_url(self, provider: ProviderConfig) -> str:
        base = provider.base_url
        if self.style == "anthropic" and not base.endswith("/v1"):
            # Anthropic's base URL is conventionally given without /v1 (as its SDK takes it).
            return base + "/v1/messages"
        return base + self.path.removeprefix("/v1")


APIS: dict[str, Api] = {
    api.path: api
    for api in (
        Api(
            name="chat.completions",
            path="/v1/chat/completions",
            operation="chat",
            style="openai",
            kinds=_OPENAI_KINDS,
            output_fields=("max_completion_tokens", "max_tokens"),
            streams=True,
            buckets=from_openai,
        ),
        Api(
            name="responses",
            path="/v1/responses",
            operation="responses",
            style="openai",
            kinds=_OPENAI_KINDS,
            output_fields=("max_output_tokens",),
            streams=True,
            buckets=from_openai,
        ),
        Api(
            name="embeddings",
            path="/v1/embeddings",
            operation="embeddings",
            style="openai",
            kinds=_OPENAI_KINDS,
            output_fields=(),
            streams=False,
            buckets=from_openai,
        ),
        Api(
            name="messages",
            path="/v1/messages",
            operation="messages",
            style="anthropic",
            kinds=frozenset({ProviderKind.ANTHROPIC}),
            output_fields=("max_tokens",),
            streams=True,
            buckets=from_anthropic,
        ),
    )
}


def wrong_kind_message(api: Api, model: str, provider: ProviderConfig) -> str:
    if provider.kind == ProviderKind.ANTHROPIC:
        return (
            f"model '{model}' is served by provider '{provider.name}', which speaks the Anthropic Messages API: "
            "call it with POST /v1/messages (e.g. the anthropic SDK with base_url set to this server); the "
            "gateway does not translate between the OpenAI and Anthropic APIs"
        )
    return (
        f"model '{model}' is served by provider '{provider.name}', which speaks the OpenAI API: call it with "
        "POST /v1/chat/completions, /v1/responses or /v1/embeddings (e.g. the openai SDK with base_url set to "
        f"this server's /v1), not {api.path}; the gateway does not translate between the two APIs"
    )
