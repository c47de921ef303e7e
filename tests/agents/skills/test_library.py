"""Installing skills into the data directory and finding them again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshclaw.agents.skills.library import SkillLibrary
from meshclaw.agents.skills.manifest import SkillInvalidError
from meshclaw.errors import ConflictError, NotFoundError

FIXTURES = Path(__file__).parent / "fixtures"


def test_install_copies_the_folder_and_lists_it(tmp_path: Path) -> None:
    library = SkillLibrary.in_data_dir(tmp_path)
    assert library.installed() == []
    skill = library.install(FIXTURES / "pdf-notes")
    assert skill.folder == (tmp_path / "skills" / "pdf-notes").resolve()
    assert (skill.folder / "references" / "FORMAT.md").is_file()
    assert [s.name for s in library.installed()] == ["pdf-notes"]
    assert library.get("pdf-notes").description == skill.description
    assert [p.name for p in (tmp_path / "skills").iterdir()] == ["pdf-notes"]  # no staging left behind


def test_install_twice_needs_replace(tmp_path: Path) -> None:
    source = tmp_path / "src" / "pdf-notes"
    shutil.copytree(FIXTURES / "pdf-notes", source)
    library = SkillLibrary.in_data_dir(tmp_path / "data")
    library.install(source)
    with pytest.raises(ConflictError, match="already installed"):
        library.install(source)
    (source / "references" / "FORMAT.md").write_text("changed\n")
    library.install(source, replace=True)
    installed = library.get("pdf-notes").folder / "references" / "FORMAT.md"
    assert installed.read_text() == "changed\n"


def test_an_invalid_skill_is_not_installed(tmp_path: Path) -> None:
    library = SkillLibrary.in_data_dir(tmp_path)
    with pytest.raises(SkillInvalidError):
        library.install(FIXTURES / "name-mismatch")
    assert not (tmp_path / "skills" / "other-name").exists()


def test_a_skill_holding_a_symlink_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "src" / "pdf-notes"
    shutil.copytree(FIXTURES / "pdf-notes", source)
    (source / "references" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(SkillInvalidError) as raised:
        SkillLibrary.in_data_dir(tmp_path / "data").install(source)
    assert "a symbolic link" in raised.value.errors[0]


@pytest.mark.parametrize("name", ["missing", "../pdf-notes", "", ".hidden"])
def test_unknown_or_crafted_names_are_not_found(tmp_path: Path, name: str) -> None:
    library = SkillLibrary.in_data_dir(tmp_path)
    library.install(FIXTURES / "pdf-notes")
    with pytest.raises(NotFoundError, match="is not installed"):
        library.get(name)


def test_a_broken_installed_skill_is_listed_as_broken(tmp_path: Path) -> None:
    library = SkillLibrary.in_data_dir(tmp_path)
    library.install(FIXTURES / "pdf-notes")
    shutil.copytree(FIXTURES / "no-description", tmp_path / "skills" / "no-description")
    checks = library.checks()
    assert [(c.path.name, c.skill is None) for c in checks] == [
        ("no-description", True),
        ("pdf-notes", False),
    ]
    assert [s.name for s in library.installed()] == ["pdf-notes"]
