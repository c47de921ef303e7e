"""What an agent's skills give it: two read-only tools and a short block for its instructions.

The instructions list each granted skill's name and description only (the spec's first level of
progressive disclosure); `skill_load_instructions` returns a skill's body when the model decides a task
calls for it, and `skill_read_file` a file the body refers to. Both only read files an administrator
installed, so their effect class is `read_private`. The tool names follow the registry's
`<domain>_<verb>_<object>` rule.

Scripts under `scripts/` are not offered as tools: running one would be a tool nobody has classified,
which the policy treats as destructive. The instructions block says so, so the model does not try.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from meshclaw.agents.runtime.contract import RunRequest
from meshclaw.agents.skills.library import SkillLibrary
from meshclaw.agents.skills.manifest import SKILL_FILE, Skill, read_body
from meshclaw.agents.spec import AgentSpec
from meshclaw.errors import InvalidInputError, MeshclawError
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError, ToolSpec

MAX_FILE_BYTES = 256 * 1024
"""The most `skill_read_file` returns; a reference file larger than this would crowd out the task."""


class LoadArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skill: str = Field(description="The skill's name, as listed under 'Skills' in your instructions.")


class ReadFileArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skill: str = Field(description="The skill's name, as listed under 'Skills' in your instructions.")
    path: str = Field(
        description="A file inside the skill's folder, relative to it, e.g. 'references/REFERENCE.md'."
    )


@dataclass(frozen=True)
class AgentSkills:
    """An agent's skills as the runtime wires them in: tools to register for the run, and text to append
    to the agent's instructions. Both are empty when the agent has no skills."""

    skills: tuple[Skill, ...]
    tools: tuple[ToolSpec, ...]
    instructions: str


def resolve_inside(folder: Path, relative: str) -> Path:
    """The file `relative` names inside `folder`, or ToolError when it would leave the folder.

    Resolving follows symbolic links and `..` first, then checks containment, so neither a link nor a
    crafted path reaches outside the skill.
    """
    if not relative.strip():
        raise ToolError("give a path relative to the skill's folder, e.g. 'references/REFERENCE.md'")
    candidate = Path(relative)
    if candidate.is_absolute() or "\x00" in relative:
        raise ToolError(f"'{relative}' is not a relative path inside the skill's folder")
    root = folder.resolve()
    target = (root / candidate).resolve()
    if not target.is_relative_to(root):
        raise ToolError(f"'{relative}' points outside the skill's folder; only its own files can be read")
    if not target.is_file():
        raise ToolError(f"the skill has no file '{relative}'")
    return target


def read_skill_file(skill: Skill, relative: str) -> str:
    target = resolve_inside(skill.folder, relative)
    size = target.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ToolError(f"'{relative}' is {size} bytes; files over {MAX_FILE_BYTES} bytes are not returned")
    try:
        return target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"'{relative}' is not UTF-8 text (a binary asset); it cannot be shown") from None


def instructions_block(skills: tuple[Skill, ...]) -> str:
    if not skills:
        return ""
    lines = [
        "## Skills",
        "You have these skills. When a task matches a skill's description, call `skill_load_instructions` "
        "with its name before you start, then follow what it says; read files it refers to with "
        "`skill_read_file`.",
        "",
    ]
    lines += [f"- {skill.name}: {skill.description}" for skill in skills]
    if any(skill.has_scripts for skill in skills):
        lines += [
            "",
            "Scripts in a skill's scripts/ folder cannot be run here; you may read them with "
            "`skill_read_file`, but do the work with your other tools.",
        ]
    return "\n".join(lines)


def skill_tools(skills: tuple[Skill, ...]) -> tuple[ToolSpec, ...]:
    """The two tools, bound to exactly these skills: a name outside them is refused."""
    if not skills:
        return ()
    by_name = {skill.name: skill for skill in skills}

    def granted(name: str) -> Skill:
        skill = by_name.get(name)
        if skill is None:
            raise ToolError(f"no skill named '{name}'; your skills are: {', '.join(sorted(by_name))}")
        return skill

    async def skill_load_instructions(args: LoadArgs) -> str:
        skill = granted(args.skill)
        try:
            return read_body(skill)
        except (OSError, MeshclawError):
            raise ToolError(
                f"skill '{skill.name}' cannot be read right now; tell the agent's owner"
            ) from None

    async def skill_read_file(args: ReadFileArgs) -> str:
        skill = granted(args.skill)
        if Path(args.path).as_posix() == SKILL_FILE:
            return await skill_load_instructions(LoadArgs(skill=skill.name))
        return read_skill_file(skill, args.path)

    return (
        ToolSpec(
            name="skill_load_instructions",
            description="Load one of your skills: returns its full instructions (Markdown).",
            effect=EffectClass.READ_PRIVATE,
            args=LoadArgs,
            function=skill_load_instructions,
            origin="skill",
        ),
        ToolSpec(
            name="skill_read_file",
            description="Read a text file from one of your skills' folders (a reference, template or script).",
            effect=EffectClass.READ_PRIVATE,
            args=ReadFileArgs,
            function=skill_read_file,
            origin="skill",
        ),
    )


def agent_skills(spec: AgentSpec, library: SkillLibrary) -> AgentSkills:
    """The skills `spec` names, from `library`, as tools and an instructions block.

    Raises InvalidInputError naming every skill that is missing or broken, so a run fails with a message
    that says what to install or fix rather than running with half its skills.
    """
    skills: list[Skill] = []
    problems: list[str] = []
    for name in dict.fromkeys(spec.skills):
        try:
            skills.append(library.get(name))
        except MeshclawError as exc:
            problems.append(exc.message)
    if problems:
        raise InvalidInputError(f"agent '{spec.name}': " + "; ".join(problems), field="skills")
    chosen = tuple(skills)
    return AgentSkills(skills=chosen, tools=skill_tools(chosen), instructions=instructions_block(chosen))


@dataclass(frozen=True)
class SkillToolSource:
    """The runtime's per-run tool source (`RunToolSource`) for skills: the tools of the run's agent."""

    library: SkillLibrary

    def tools_for(self, request: RunRequest) -> Sequence[ToolSpec]:
        return agent_skills(request.spec, self.library).tools if request.spec.skills else ()

    def instructions_for(self, request: RunRequest) -> str | None:
        return agent_skills(request.spec, self.library).instructions if request.spec.skills else None
