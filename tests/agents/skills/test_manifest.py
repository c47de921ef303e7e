"""Reading and validating skill folders against the Agent Skills spec, on the fixture folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshclaw.agents.skills.manifest import SkillInvalidError, check_skill, read_body, read_skill

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_valid_skill_reads_every_field() -> None:
    skill = read_skill(FIXTURES / "pdf-notes")
    assert skill.name == "pdf-notes"
    assert skill.description.startswith("Summarize PDF documents")
    assert skill.license == "Apache-2.0"
    assert skill.metadata == {"author": "example-org", "version": "1.0"}
    assert skill.allowed_tools == ("Read", "Grep")
    assert skill.has_scripts
    assert skill.warnings == ()
    assert read_body(skill).startswith("# Taking notes from a PDF")


def test_a_skill_file_given_directly_is_its_folder() -> None:
    assert read_skill(FIXTURES / "pdf-notes" / "SKILL.md").name == "pdf-notes"


@pytest.mark.parametrize(
    ("folder", "says"),
    [
        ("bad_Name", "field 'name' is 'bad_Name': use lower-case letters"),
        ("no-description", "field 'description' is required and missing"),
        ("name-mismatch", "field 'name' is 'other-name' but the folder is named 'name-mismatch'"),
    ],
)
def test_an_invalid_skill_is_refused_naming_file_and_field(folder: str, says: str) -> None:
    with pytest.raises(SkillInvalidError) as raised:
        read_skill(FIXTURES / folder)
    assert len(raised.value.errors) == 1
    error = raised.value.errors[0]
    assert error.startswith(str(FIXTURES / folder / "SKILL.md") + ": ")
    assert says in error


def test_unknown_fields_are_warnings_not_errors() -> None:
    result = check_skill(FIXTURES / "extra-fields")
    assert result.skill is not None
    assert result.warnings == (
        f"{FIXTURES / 'extra-fields' / 'SKILL.md'}: field 'argument-hint' is not part of the Agent Skills "
        "spec; it is ignored",
    )


def _skill(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "SKILL.md").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("# no front matter\n", "must start with YAML front matter"),
        ("---\nname: x\n", "must start with YAML front matter"),
        ("---\nname: [unclosed\n---\n", "front matter is not valid YAML"),
        ("---\n- a list\n---\n", "front matter must be a mapping"),
        ("---\nname: " + "[" * 50_000 + "\n---\n", "front matter is nested too deeply"),
        (
            "---\nname: s\ndescription: " + "d" * 1025 + "\n---\n",
            "has 1025 characters; the spec allows at most 1024",
        ),
        ("---\nname: s\ndescription: ok\ncompatibility: " + "c" * 501 + "\n---\n", "'compatibility' has 501"),
        ("---\nname: s\ndescription: 3\n---\n", "field 'description' must be text, not int"),
        ("---\nname: s\ndescription: ok\nmetadata: [a]\n---\n", "field 'metadata' must be a mapping"),
        ("---\nname: s\ndescription: ok\nallowed-tools: 3\n---\n", "field 'allowed-tools' must be"),
    ],
)
def test_malformed_front_matter_says_what_is_wrong(tmp_path: Path, text: str, says: str) -> None:
    result = check_skill(_skill(tmp_path, "s", text))
    assert result.skill is None
    assert any(says in error for error in result.errors), result.errors


@pytest.mark.parametrize("name", ["-pdf", "pdf-", "pdf--notes", "PDF", "a" * 65, "pdf_notes"])
def test_names_outside_the_spec_are_refused(tmp_path: Path, name: str) -> None:
    result = check_skill(_skill(tmp_path, name, f"---\nname: {name}\ndescription: ok\n---\n"))
    assert result.skill is None
    assert "field 'name'" in result.errors[0]


def test_every_problem_is_listed_not_only_the_first(tmp_path: Path) -> None:
    result = check_skill(_skill(tmp_path, "x", "---\nname: Y\nmetadata: 3\n---\n"))
    assert len(result.errors) == 3


def test_a_folder_without_skill_md(tmp_path: Path) -> None:
    assert "missing; every skill folder needs a SKILL.md" in check_skill(tmp_path).errors[0]
