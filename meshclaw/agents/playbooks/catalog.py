"""The built-in playbooks, by the name an agent's `template` gives (a fresh mapping per call: no registry
shared by import)."""

from __future__ import annotations

from meshclaw.agents.playbooks import deploy_on_request, deployment_watch, inbox_triage
from meshclaw.agents.playbooks.contract import Playbook


def builtin_playbooks() -> dict[str, Playbook]:
    # The Playbooks issue adds inbox triage, deployment watch, deploy on request and the chat assistant
    # here; each is a module of its own under meshclaw/agents/playbooks/.
    found: list[Playbook] = [
        inbox_triage.playbook(),
        deployment_watch.playbook(),
        deploy_on_request.playbook(),
    ]
    return {playbook.name: playbook for playbook in found}
