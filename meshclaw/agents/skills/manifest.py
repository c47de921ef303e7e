"""One skill folder, read and validated against the Agent Skills spec.

`check_skill` collects every problem instead of stopping at the first, so `meshclaw skills check` can list
them all; `read_skill` raises `SkillInvalidError` carrying that list. Fields the spec does not define are
warnings, not errors: skills written for one product often carry that product's extra keys
(`disable-model-invocation`, `argument-hint`), and refusing them would refuse most published skills.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from meshclaw.errors import InvalidInputError

SKILL_FILE = "SKILL.md"
MAX_SKILL_FILE_BYTES = 1024 * 1024
"""A SKILL.md is instructions for a model (the spec recommends < 500 lines); a megabyte is a mistake."""
NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
KNOWN_FIELDS = frozenset({"name", "description", "license", "compatibility", "metadata", "allowed-tools"})


class SkillInvalidError(InvalidInputError):
    """A skill folder breaks the spec. `errors` holds one line per problem, each naming file and field."""

    def __init__(self, message: str, *, errors: list[str]) -> None:
        super().__init__(message, field="skill")
        self.errors = errors


@dataclass(frozen=True, kw_only=True)
class Skill:
    """A valid skill. The body is read again from disk when loaded, so an edit needs no re-install."""

    name: str
    """Lower-case letters, digits and single hyphens; equals the folder's name."""
    description: str
    """What the skill does and when to use it: all the model sees until it loads the skill."""
    folder: Path
    """The skill's folder, resolved (absolute, symlinks followed)."""
    license: str | None = None
    compatibility: str | None = None
    """Environment requirements the author declares (products, system packages, network access)."""
    metadata: dict[str, str] = field(default_factory=dict)
    allowed_tools: tuple[str, ...] = ()
    """Tools the author says the skill may use; recorded for people to read, never a grant."""
    has_scripts: bool = False
    """Whether `scripts/` holds files. They are not run: that would be an unclassified tool."""
    warnings: tuple[str, ...] = ()
    """Problems that do not stop the skill from loading (unknown front-matter fields)."""

    @property
    def skill_file(self) -> Path:
        return self.folder / SKILL_FILE


@dataclass(frozen=True)
class SkillCheck:
    """The outcome of validating one folder: a skill when `errors` is empty."""

    path: Path
    skill: Skill | None
    errors: tuple[str, ...]
    warnings: tuple[str, ...]


def split_front_matter(text: str) -> tuple[str, str] | None:
    """(YAML, body) when `text` opens with a `---` line and a later `---` line closes it; else None."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    return None


def read_body(skill: Skill) -> str:
    """The Markdown instructions after the front matter, read from disk now."""
    text = skill.skill_file.read_text(encoding="utf-8")
    parts = split_front_matter(text)
    if parts is None:
        raise SkillInvalidError(
            f"{skill.skill_file}: the front matter is gone; run `meshclaw skills check {skill.folder}`",
            errors=[],
        )
    return parts[1].strip("\n")


def _text_field(
    front: dict[object, object], key: str, where: str, errors: list[str], *, limit: int, required: bool
) -> str | None:
    value = front.get(key)
    if value is None:
        if required:
            errors.append(f"{where}: field '{key}' is required and missing")
        return None
    if not isinstance(value, str):
        errors.append(f"{where}: field '{key}' must be text, not {type(value).__name__}")
        return None
    value = value.strip()
    if not value:
        errors.append(f"{where}: field '{key}' is empty")
        return None
    if len(value) > limit:
        errors.append(f"{where}: field '{key}' has {len(value)} characters; the spec allows at most {limit}")
        return None
    return value


def _name(front: dict[object, object], folder: Path, where: str, errors: list[str]) -> str | None:
    name = _text_field(front, "name", where, errors, limit=MAX_NAME, required=True)
    if name is None:
        return None
    if not NAME_PATTERN.match(name):
        errors.append(
            f"{where}: field 'name' is '{name}': use lower-case letters a-z, digits and single hyphens, "
            "not starting or ending with a hyphen (e.g. 'pdf-processing')"
        )
        return None
    if name != folder.name:
        errors.append(
            f"{where}: field 'name' is '{name}' but the folder is named '{folder.name}': "
            "the spec requires them to be equal; rename one"
        )
        return None
    return name


def _metadata(front: dict[object, object], where: str, errors: list[str]) -> dict[str, str]:
    value = front.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{where}: field 'metadata' must be a mapping of keys to text values")
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        # YAML reads `version: 1.0` as a number; the spec means text, so plain scalars are kept as text.
        if isinstance(item, dict | list) or item is None:
            errors.append(f"{where}: field 'metadata.{key}' must be a text value, not a nested structure")
            continue
        out[str(key)] = str(item)
    return out


def _allowed_tools(front: dict[object, object], where: str, errors: list[str]) -> tuple[str, ...]:
    value = front.get("allowed-tools")
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    errors.append(f"{where}: field 'allowed-tools' must be a space-separated string or a list of strings")
    return ()


def _has_scripts(folder: Path) -> bool:
    scripts = folder / "scripts"
    return scripts.is_dir() and any(path.is_file() for path in scripts.rglob("*"))


def check_skill(path: Path) -> SkillCheck:
    """Validate the skill folder at `path` (or the folder of a SKILL.md given directly)."""
    folder = path.parent if path.name == SKILL_FILE and path.is_file() else path
    skill_file = folder / SKILL_FILE
    where = str(skill_file)
    if not folder.is_dir():
        return SkillCheck(
            path, None, (f"{folder}: not a folder; a skill is a folder holding {SKILL_FILE}",), ()
        )
    if not skill_file.is_file():
        return SkillCheck(path, None, (f"{where}: missing; every skill folder needs a {SKILL_FILE}",), ())
    if skill_file.stat().st_size > MAX_SKILL_FILE_BYTES:
        return SkillCheck(
            path,
            None,
            (f"{where}: larger than {MAX_SKILL_FILE_BYTES} bytes; move detail to references/",),
            (),
        )
    try:
        text = skill_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return SkillCheck(path, None, (f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})",), ())
    parts = split_front_matter(text)
    if parts is None:
        return SkillCheck(
            path,
            None,
            (f"{where}: must start with YAML front matter between two '---' lines (name, description)",),
            (),
        )
    try:
        front = yaml.safe_load(parts[0])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (front matter line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        return SkillCheck(path, None, (f"{where}: front matter is not valid YAML{line}: {problem}",), ())
    except RecursionError:  # PyYAML composes nested collections by recursion
        return SkillCheck(path, None, (f"{where}: front matter is nested too deeply",), ())
    if not isinstance(front, dict):
        return SkillCheck(path, None, (f"{where}: front matter must be a mapping of fields (name: ...)",), ())

    errors: list[str] = []
    name = _name(front, folder, where, errors)
    description = _text_field(front, "description", where, errors, limit=MAX_DESCRIPTION, required=True)
    license_ = _text_field(front, "license", where, errors, limit=MAX_DESCRIPTION, required=False)
    compatibility = _text_field(
        front, "compatibility", where, errors, limit=MAX_COMPATIBILITY, required=False
    )
    metadata = _metadata(front, where, errors)
    allowed_tools = _allowed_tools(front, where, errors)
    warnings = tuple(
        f"{where}: field '{key}' is not part of the Agent Skills spec; it is ignored"
        for key in front
        if key not in KNOWN_FIELDS
    )
    if errors or name is None or description is None:
        return SkillCheck(path, None, tuple(errors), warnings)
    skill = Skill(
        name=name,
        description=description,
        folder=folder.resolve(),
        license=license_,
        compatibility=compatibility,
        metadata=metadata,
        allowed_tools=allowed_tools,
        has_scripts=_has_scripts(folder),
        warnings=warnings,
    )
    return SkillCheck(path, skill, (), warnings)


def read_skill(path: Path) -> Skill:
    """The skill at `path`, or `SkillInvalidError` listing every problem."""
    result = check_skill(path)
    if result.skill is None:
        count = len(result.errors)
        raise SkillInvalidError(
            f"{path} is not a valid skill ({count} problem{'s' if count != 1 else ''})",
            errors=list(result.errors),
        )
    return result.skill
