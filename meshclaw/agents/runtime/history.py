"""The history bytes a run stores between segments: pydantic-ai's messages plus the calls left pending.

The envelope is ours, so the runs layer stores opaque bytes and a later pydantic-ai version can change
its message format behind a version number here. The history is only ever read back from the server's
own store: approval is bound to it, so a client must never be able to submit one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic_ai.messages import ModelMessage

from meshclaw.tools.effects import EffectClass

VERSION = 1


class PendingCall(BaseModel):
    model_config = ConfigDict(frozen=True)

    tool_call_id: str
    name: str
    effect: EffectClass
    args_digest: str


class Envelope(BaseModel):
    v: int = VERSION
    pending: list[PendingCall] = []
    messages: list[ModelMessage]


_ADAPTER: TypeAdapter[Envelope] = TypeAdapter(Envelope)


class HistoryError(Exception):
    """Stored history this runtime cannot read."""


def dump(messages: list[ModelMessage], pending: list[PendingCall]) -> bytes:
    return _ADAPTER.dump_json(Envelope(pending=pending, messages=messages))


def load(data: bytes) -> Envelope:
    try:
        envelope = _ADAPTER.validate_json(data)
    except ValueError as error:
        raise HistoryError(f"the stored run history cannot be read ({error.__class__.__name__})") from None
    if envelope.v != VERSION:
        raise HistoryError(f"the stored run history has version {envelope.v}; this runtime reads {VERSION}")
    return envelope
