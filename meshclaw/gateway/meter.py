"""The metering of one gateway call: exactly one UsageEvent and one settlement, whatever happened.

A call is opened after admission and finished in a `finally`, so success, an upstream error, a timeout,
a cut stream and a client hanging up all end in `finish()`; a second `finish()` does nothing, which is
what keeps any path from counting a call twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from meshclaw.clock import Clock
from meshclaw.gateway.apis import Api
from meshclaw.gateway.run_credentials import Caller
from meshclaw.limits.admission import Ticket
from meshclaw.metering.events import Status, TokenBuckets, UsageEvent
from meshclaw.metering.recorder import Recorder

log = logging.getLogger("meshclaw.gateway")


@dataclass(slots=True, kw_only=True)
class CallMeter:
    api: Api
    provider: str
    requested_model: str
    caller: Caller
    client: str | None
    prompt_hash: str | None
    stream: bool
    started_at: datetime
    ticket: Ticket
    recorder: Recorder
    clock: Clock
    status: Status = "ok"
    error: str | None = None
    http_status: int = 200
    usage: dict[str, Any] | None = None
    model: str | None = None
    _finished: bool = field(default=False)

    def fail(self, http_status: int, error: str, *, status: Status = "error") -> None:
        self.status, self.error, self.http_status = status, error[:500], http_status

    def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        ended_at = self.clock.now()
        tokens = self.api.buckets(self.usage) if self.usage else TokenBuckets()
        priced = self.model or self.requested_model
        cost = self.recorder.cost_microusd(priced, tokens, self.started_at)
        try:
            self.ticket.settle(tokens=tokens.total, cost_microusd=cost, now=ended_at)
        except Exception:  # a limiter bug must not lose the usage record
            log.exception("settling a gateway call's budget reservation failed")
        attributes: dict[str, Any] = {"http_status": self.http_status}
        if self.stream:
            attributes["stream"] = True
        self.recorder.record_usage(
            UsageEvent(
                source=self.caller.source,
                started_at=self.started_at,
                ended_at=ended_at,
                status=self.status,
                error=self.error,
                provider=self.provider,
                operation=self.api.operation,
                requested_model=self.requested_model,
                # What the upstream says answered is its text: cut to the column's width (PostgreSQL refuses
                # longer values) and made text whatever a stream chunk held.
                model=str(self.model or self.requested_model or "")[:200] or None,
                tokens=tokens,
                raw_usage=self.usage,
                user_id=self.caller.user_id,
                team_id=self.caller.team_id,
                api_key_id=self.caller.api_key_id,
                agent_id=self.caller.agent_id,
                run_id=self.caller.run_id,
                initiator=self.caller.initiator,
                client=self.client,
                prompt_hash=self.prompt_hash,
                attributes=attributes,
            )
        )
