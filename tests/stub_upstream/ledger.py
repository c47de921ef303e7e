"""The stub's own bill: one record per request it served, to reconcile a gateway's usage records against."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

Api = Literal["chat.completions", "responses", "embeddings", "messages"]


@dataclass(slots=True)
class Served:
    """What the stub served for one request: the upstream's own bill, to reconcile a gateway against."""

    id: str
    api: Api
    model: str
    stream: bool
    status: int
    input_tokens: int = 0
    """Input tokens billed, as the API reports them (OpenAI: cached included; Anthropic: excluded)."""
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    completed: bool = False
    """True once the whole response (for a stream: the last event) was handed to the connection."""
    include_usage: bool = False
    """Whether a chat stream asked for usage (`stream_options.include_usage`)."""
    key: str | None = None
    """The provider key received, from `x-api-key` or `Authorization: Bearer` (anthropic 2.x SDKs send the
    latter); the raw headers follow, so a test can check the client's MeshClaw key reached neither."""
    authorization: str | None = None
    x_api_key: str | None = None
    started_at: float = field(default_factory=time.time)
    answer: str | None = None
    """With a responder (scripted.py): what it answered, `text` or `tool:<names>`."""
