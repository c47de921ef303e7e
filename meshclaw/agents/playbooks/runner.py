"""Runs one segment of a playbook agent: the playbook's coroutine with `Steps`, until it answers, a call
waits for a person, the kill switch stops it, or a step fails. Like the agent loop, it never raises for
what the playbook or its tools did: every ending is a `RunResult`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from meshclaw.agents.playbooks.contract import Playbook, Refused, StepFailed
from meshclaw.agents.playbooks.steps import NotDeterministic, Steps, WaitForApproval, load_journal
from meshclaw.agents.runtime.contract import (
    ModelFactory,
    ModelUnavailable,
    RunRequest,
    RunResult,
    RunStatus,
    StepSink,
    ToolGate,
    UsageTotals,
)
from meshclaw.clock import Clock
from meshclaw.tools.registry import ToolRegistry

log = logging.getLogger("meshclaw.playbooks")


async def execute_playbook(
    playbook: Playbook,
    request: RunRequest,
    *,
    sink: StepSink,
    gate: ToolGate,
    tools: ToolRegistry,
    model_factory: ModelFactory,
    clock: Clock,
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    journal = load_journal(request.resume.history if request.resume else None)
    steps = Steps(request=request, sink=sink, gate=gate, tools=tools, model_factory=model_factory,
                  now=clock.now(), journal=journal)  # fmt: skip

    def result(status: RunStatus, **fields: object) -> RunResult:
        meter = steps.meter
        usage = UsageTotals(tokens=meter.tokens, cost_usd=meter.cost_usd, requests=meter.requests,
                            tool_calls=meter.tool_calls)  # fmt: skip
        tainted = request.tainted or steps.untrusted.present
        return RunResult(status=status, usage=usage, tainted=tainted, outcomes=tuple(steps.outcomes),
                         **fields)  # type: ignore[arg-type]  # fmt: skip

    if should_stop is not None and should_stop():
        return result("cancelled", error="the run was stopped (kill switch) before its first step")
    try:
        output = await playbook.run(steps)
    except WaitForApproval as waiting:
        return result("waiting_approval", pending=(waiting.pending,), history=steps.journal_bytes())
    except (Refused, StepFailed) as exc:
        # Not caught by the playbook: the run ends, saying which step and why.
        return result("failed", error=f"the playbook '{playbook.name}' stopped at {exc}")
    except NotDeterministic as exc:
        return result("failed", error=str(exc))
    except ModelUnavailable as exc:
        return result("failed", error=str(exc))
    except Exception as exc:  # a run never raises for what its playbook did
        log.exception("playbook %s failed in run %s", playbook.name, request.run_id)
        return result(
            "failed",
            error=f"the playbook '{playbook.name}' failed ({type(exc).__name__}); see the server log",
        )
    return result("succeeded", output=output)
