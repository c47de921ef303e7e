"""The tools and instructions an agent's skills give it, called as the runtime calls them."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from meshclaw.agents.skills.library import SkillLibrary
from meshclaw.agents.skills.tools import agent_skills
from meshclaw.agents.spec import AgentSpec
from meshclaw.errors import InvalidInputError
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError, ToolSpec

FIXTURES = Path(__file__).parent / "fixtures"
T = TypeVar("T")


def call(coro: Coroutine[Any, Any, T]) -> T:
    # The session's Playwright fixture keeps a loop marked running on the main thread: use a thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture
def library(tmp_path: Path) -> SkillLibrary:
    library = SkillLibrary.in_data_dir(tmp_path / "data")
    library.install(FIXTURES / "pdf-notes")
    library.install(FIXTURES / "extra-fields")
    return library


def tool(tools: tuple[ToolSpec, ...], name: str) -> ToolSpec:
    return next(t for t in tools if t.name == name)


def test_an_agent_without_skills_gets_nothing(library: SkillLibrary) -> None:
    kit = agent_skills(AgentSpec(name="plain"), library)
    assert kit.tools == ()
    assert kit.instructions == ""


def test_instructions_list_name_and_description_only(library: SkillLibrary) -> None:
    kit = agent_skills(AgentSpec(name="notes", skills=("pdf-notes",)), library)
    assert "- pdf-notes: Summarize PDF documents into meeting notes." in kit.instructions
    assert "extra-fields" not in kit.instructions
    assert "Taking notes from a PDF" not in kit.instructions  # the body waits for skill_load_instructions
    assert "cannot be run here" in kit.instructions  # pdf-notes has scripts/
    assert {(t.name, t.effect) for t in kit.tools} == {
        ("skill_load_instructions", EffectClass.READ_PRIVATE),
        ("skill_read_file", EffectClass.READ_PRIVATE),
    }


def test_load_returns_the_body_and_read_file_a_reference(library: SkillLibrary) -> None:
    kit = agent_skills(AgentSpec(name="notes", skills=("pdf-notes",)), library)
    load = tool(kit.tools, "skill_load_instructions")
    body = call(load.function(load.args(skill="pdf-notes")))
    assert body.startswith("# Taking notes from a PDF")
    assert "description:" not in body
    read = tool(kit.tools, "skill_read_file")
    text = call(read.function(read.args(skill="pdf-notes", path="references/FORMAT.md")))
    assert text.startswith("# Notes format")
    assert call(read.function(read.args(skill="pdf-notes", path="scripts/extract.py"))).startswith("print(")


def test_a_skill_not_granted_to_the_agent_is_refused(library: SkillLibrary) -> None:
    kit = agent_skills(AgentSpec(name="notes", skills=("pdf-notes",)), library)
    load = tool(kit.tools, "skill_load_instructions")
    with pytest.raises(ToolError, match="no skill named 'extra-fields'; your skills are: pdf-notes"):
        call(load.function(load.args(skill="extra-fields")))


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("../extra-fields/SKILL.md", "points outside the skill's folder"),
        ("references/../../../../../../etc/passwd", "points outside the skill's folder"),
        ("/etc/passwd", "not a relative path"),
        ("references/NOPE.md", "has no file"),
        ("references", "has no file"),
        ("", "give a path relative"),
    ],
)
def test_path_traversal_is_refused(library: SkillLibrary, path: str, says: str) -> None:
    kit = agent_skills(AgentSpec(name="notes", skills=("pdf-notes",)), library)
    read = tool(kit.tools, "skill_read_file")
    with pytest.raises(ToolError, match=says):
        call(read.function(read.args(skill="pdf-notes", path=path)))


def test_a_symlink_placed_in_an_installed_skill_cannot_escape(library: SkillLibrary, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    (library.get("pdf-notes").folder / "references" / "leak.md").symlink_to(secret)
    kit = agent_skills(AgentSpec(name="notes", skills=("pdf-notes",)), library)
    read = tool(kit.tools, "skill_read_file")
    with pytest.raises(ToolError, match="points outside"):
        call(read.function(read.args(skill="pdf-notes", path="references/leak.md")))


def test_a_missing_skill_fails_naming_it(library: SkillLibrary) -> None:
    with pytest.raises(InvalidInputError, match="agent 'notes': skill 'nope' is not installed"):
        agent_skills(AgentSpec(name="notes", skills=("pdf-notes", "nope")), library)


def test_a_skill_edited_after_install_loads_the_new_body(library: SkillLibrary) -> None:
    kit = agent_skills(AgentSpec(name="notes", skills=("pdf-notes",)), library)
    skill_file = library.get("pdf-notes").folder / "SKILL.md"
    skill_file.write_text(skill_file.read_text().replace("# Taking notes", "# Taking better notes"))
    load = tool(kit.tools, "skill_load_instructions")
    assert call(load.function(load.args(skill="pdf-notes"))).startswith("# Taking better notes")


def test_installed_copy_is_independent_of_the_source(tmp_path: Path) -> None:
    source = tmp_path / "src" / "pdf-notes"
    shutil.copytree(FIXTURES / "pdf-notes", source)
    library = SkillLibrary.in_data_dir(tmp_path / "data")
    library.install(source)
    shutil.rmtree(source)
    assert library.get("pdf-notes").name == "pdf-notes"
