"""A run started by something outsiders wrote names it first among its untrusted sources (API and run page)."""

from __future__ import annotations

from typing import Any

from meshclaw.db.models import Run
from meshclaw.runs.store import trigger_taint


def _run(kind: str, detail: dict[str, Any]) -> Run:
    return Run(id="r1", trigger_kind=kind, trigger_detail=detail)


def test_an_untrusted_event_names_its_type() -> None:
    detail = {"event": "email.received", "fields": {}, "untrusted": True}
    assert trigger_taint(_run("event", detail)) == "the event that started it (email.received)"


def test_a_chat_message_after_a_tainted_reply_names_the_conversation() -> None:
    detail = {"message": "and now?", "untrusted": True}
    assert trigger_taint(_run("chat", detail)) == "earlier replies in this conversation"


def test_what_outsiders_did_not_write_names_nothing() -> None:
    assert trigger_taint(_run("event", {"event": "deployment.started", "untrusted": False})) is None
    assert trigger_taint(_run("chat", {"message": "hello"})) is None
    assert trigger_taint(_run("manual", {})) is None
