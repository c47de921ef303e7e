"""Has this run read content outsiders can write? Asked by tools that behave differently in a tainted
run (memory stores what a tainted run remembers as untrusted), from inside a tool call.

The segment being executed is kept in a context variable, which the tool calls pydantic-ai starts
inherit; the answer covers the earlier segments too (`RunRequest.tainted`). This module imports nothing
heavy, so a tool source can hand `tainted` to its tools without loading the agent loop.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from meshclaw.agents.runtime.contract import RunRequest

if TYPE_CHECKING:
    from meshclaw.agents.runtime.gated import SegmentState

CURRENT: ContextVar[SegmentState | None] = ContextVar("meshclaw_run_segment", default=None)


def tainted(request: RunRequest) -> bool:
    """True once a READ_UNTRUSTED tool ran in this run. Asked outside the run's own execution (where the
    answer is not known), it says True: treating clean content as untrusted is the safe mistake."""
    state = CURRENT.get()
    if state is None or state.request.run_id != request.run_id:
        return True
    return state.tainted
