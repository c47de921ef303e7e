"""The installed skills: one folder per skill under `<data_dir>/skills/`, named by the skill.

Installing copies a validated folder in, so a later edit to the source does not change what agents run
with until it is installed again. The copy is written beside the target and renamed into place, so a
failed install never leaves half a skill. Symbolic links are refused: a link to `/etc/passwd` inside a
skill would otherwise be copied in as a readable file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from meshclaw.agents.skills.manifest import Skill, SkillCheck, SkillInvalidError, check_skill, read_skill
from meshclaw.errors import ConflictError, NotFoundError

MAX_INSTALL_BYTES = 50 * 1024 * 1024
"""A skill is instructions and small resources; anything bigger is probably the wrong folder."""


def skills_dir(data_dir: Path) -> Path:
    return data_dir / "skills"


class SkillLibrary:
    """The skills installed under one data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SkillLibrary:
        return cls(skills_dir(data_dir))

    def checks(self) -> list[SkillCheck]:
        """Every installed folder, valid or not (a hand-edited skill may have broken), by name."""
        if not self.root.is_dir():
            return []
        return [
            check_skill(folder)
            for folder in sorted(self.root.iterdir())
            if folder.is_dir() and not folder.name.startswith(".")
        ]

    def installed(self) -> list[Skill]:
        """The valid installed skills, by name."""
        return [check.skill for check in self.checks() if check.skill is not None]

    def get(self, name: str) -> Skill:
        """The installed skill `name`; NotFoundError when there is none, SkillInvalidError when broken."""
        folder = self.root / name
        # A name is looked up as one path segment only: `../x` must not reach outside the library.
        if not name or "/" in name or "\\" in name or name.startswith(".") or not folder.is_dir():
            raise NotFoundError(
                f"skill '{name}' is not installed; `meshclaw skills list` shows the installed ones "
                "and `meshclaw skills install PATH` adds one"
            )
        return read_skill(folder)

    def install(self, source: Path, *, replace: bool = False) -> Skill:
        """Validate the folder at `source` and copy it to `<root>/<name>/`."""
        skill = read_skill(source)
        _refuse_links_and_bulk(skill.folder)
        target = self.root / skill.name
        if target.exists() and not replace:
            raise ConflictError(
                f"skill '{skill.name}' is already installed at {target}; pass --replace to overwrite it"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{skill.name}-", dir=self.root))
        try:
            copied = staging / skill.name
            shutil.copytree(skill.folder, copied, symlinks=True)
            if target.exists():
                retired = Path(tempfile.mkdtemp(prefix=f".{skill.name}-old-", dir=self.root))
                os.replace(target, retired / skill.name)
                os.replace(copied, target)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                os.replace(copied, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return read_skill(target)


def _refuse_links_and_bulk(folder: Path) -> None:
    problems: list[str] = []
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            problems.append(f"{path}: a symbolic link; copy the file into the skill instead")
        elif path.is_file():
            total += path.stat().st_size
    if total > MAX_INSTALL_BYTES:
        problems.append(f"{folder}: {total} bytes in all; a skill may hold at most {MAX_INSTALL_BYTES}")
    if problems:
        raise SkillInvalidError(f"{folder} cannot be installed", errors=problems)
