"""`GET /v1/models` and `GET /v1/models/{id}`: the models this gateway routes, in the shape of the SDK
asking (Anthropic's SDK sends `anthropic-version`; everything else gets OpenAI's list)."""

from __future__ import annotations

from typing import Any

import orjson

from meshclaw.gateway.errors import GatewayError
from meshclaw.providers.registry import ProviderConfig, Routes

CREATED = 0
"""Model creation time is not known for routed models; OpenAI's field is required, so it is 0."""


def _openai(model: str, provider: ProviderConfig) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": CREATED, "owned_by": provider.name}


def _anthropic(model: str, provider: ProviderConfig) -> dict[str, Any]:
    return {"type": "model", "id": model, "display_name": model, "created_at": "1970-01-01T00:00:00Z"}


def models_body(routes: Routes, *, anthropic: bool, model_id: str | None) -> bytes:
    models = routes.models()
    shape = _anthropic if anthropic else _openai
    if model_id is not None:
        provider = routes.provider_for(model_id)
        if provider is None:
            raise GatewayError(
                404,
                f"the model '{model_id}' is not served by this gateway; GET /v1/models lists them",
                code="model_not_found",
            )
        return orjson.dumps(shape(model_id, provider))
    data = [shape(model, provider) for model, provider in models]
    if anthropic:
        return orjson.dumps(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )
    return orjson.dumps({"object": "list", "data": data})
