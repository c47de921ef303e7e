"""Per-run tool sources in the runtime: the skills an agent lists become tools it may call (granted by
the listing, like memory) and an instructions block naming them; a listed skill that is not installed
fails the run with what to install."""

from __future__ import annotations

from pathlib import Path

from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import Call, RecordingSink, Say, ScriptedModels
from meshclaw.agents.skills.library import SkillLibrary
from meshclaw.agents.skills.tools import SkillToolSource
from meshclaw.tools.registry import ToolRegistry
from tests.agents.runtime.conftest import agent, request, run

SKILL = """---
name: release-notes
description: Write release notes from merged pull requests.
---
Group the pull requests by area; one line each, newest first.
"""


def library(tmp_path: Path) -> SkillLibrary:
    source = tmp_path / "src" / "release-notes"
    source.mkdir(parents=True)
    (source / "SKILL.md").write_text(SKILL)
    skills = SkillLibrary(tmp_path / "skills")
    skills.install(source)
    return skills


def test_a_listed_skill_is_offered_loaded_and_named_in_the_instructions(tmp_path: Path) -> None:
    models = ScriptedModels([Call("skill_load_instructions", {"skill": "release-notes"}), Say("done")])
    sink = RecordingSink()
    result = run(
        execute(request(agent(skills=["release-notes"])), sink=sink, gate=DefaultGate(), tools=ToolRegistry(),
                model_factory=models, run_tools=[SkillToolSource(library(tmp_path))])
    )  # fmt: skip
    assert result.status == "succeeded", result.error
    instructions = models.requests[0][0].instructions or ""
    assert instructions.startswith("Help.") and "release-notes" in instructions
    assert "Write release notes from merged pull requests." in instructions
    # The model read the skill's body through the tool, which the gate allowed.
    returned = [part for message in models.requests[1] for part in getattr(message, "parts", ())
                if getattr(part, "tool_name", None) == "skill_load_instructions" and hasattr(part, "content")]  # fmt: skip
    assert returned and "Group the pull requests by area" in str(returned[-1].content)


def test_an_agent_without_skills_gets_no_skill_tools(tmp_path: Path) -> None:
    models = ScriptedModels([Call("skill_load_instructions", {"skill": "release-notes"}), Say("done")])
    result = run(
        execute(request(agent()), sink=RecordingSink(), gate=DefaultGate(), tools=ToolRegistry(),
                model_factory=models, run_tools=[SkillToolSource(library(tmp_path))])
    )  # fmt: skip
    assert models.requests[0][0].instructions == "Help."
    assert result.status == "succeeded"  # the unknown tool went back to the model, which then answered


def test_a_listed_skill_that_is_not_installed_fails_the_run_saying_so(tmp_path: Path) -> None:
    result = run(
        execute(request(agent(skills=["missing-skill"])), sink=RecordingSink(), gate=DefaultGate(),
                tools=ToolRegistry(), model_factory=ScriptedModels([Say("never")]),
                run_tools=[SkillToolSource(SkillLibrary(tmp_path / "skills"))])
    )  # fmt: skip
    assert result.status == "failed"
    assert result.error is not None and "missing-skill" in result.error
