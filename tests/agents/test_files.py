"""Agent files: every example loads; parse errors name the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshclaw.agents.files import FileFormat, SpecFileError, load_spec_file, parse_spec_text
from meshclaw.errors import InvalidInputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"


def test_there_are_examples_in_both_formats() -> None:
    suffixes = {path.suffix for path in EXAMPLES.iterdir()}
    assert {".toml", ".yaml"} <= suffixes


@pytest.mark.parametrize("path", sorted(EXAMPLES.iterdir()), ids=lambda p: p.name)
def test_every_example_loads(path: Path) -> None:
    spec = load_spec_file(path)
    # The file is named after its agent, so `agents show NAME` finds what `apply FILE` saved.
    assert spec.name == path.stem


def test_toml_parse_error_names_file_and_line() -> None:
    with pytest.raises(SpecFileError) as caught:
        parse_spec_text('name = "a"\npurpose = "unclosed\n', "toml", source="bad.toml")
    assert caught.value.message.startswith("bad.toml: not valid TOML: ")
    assert "line 2" in caught.value.message


def test_yaml_parse_error_names_file_and_line() -> None:
    with pytest.raises(SpecFileError) as caught:
        parse_spec_text("name: a\ntriggers:\n  - kind: cron\n   cron: x\n", "yaml", source="bad.yaml")
    assert caught.value.message.startswith("bad.yaml: not valid YAML at line 4")


@pytest.mark.parametrize(
    ("fmt", "text"),
    [("yaml", "name: " + "[" * 50_000), ("toml", "name = " + "[" * 50_000), ("toml", "a = " + "{b=" * 5_000)],
)
def test_a_definition_nested_too_deeply_is_refused_with_a_message(fmt: FileFormat, text: str) -> None:
    # The parsers follow nesting by recursion; Python's recursion limit ended them in a RecursionError.
    with pytest.raises(SpecFileError, match=f"deep.{fmt}: not valid {fmt.upper()}: nested too deeply"):
        parse_spec_text(text, fmt, source=f"deep.{fmt}")


def test_yaml_tags_that_build_objects_are_refused() -> None:
    with pytest.raises(SpecFileError, match="not valid YAML"):
        parse_spec_text("name: !!python/object/apply:os.system ['true']\n", "yaml", source="evil.yaml")


def test_a_list_is_not_a_definition() -> None:
    with pytest.raises(SpecFileError, match="must be a table of fields"):
        parse_spec_text("- a\n- b\n", "yaml", source="list.yaml")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text("{}")
    with pytest.raises(
        InvalidInputError, match=r"agent\.json: an agent file ends in \.toml, \.yaml or \.yml"
    ):
        load_spec_file(path)
