"""`meshclaw skills list|check|install`, run in-process through the Typer app."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson
from typer.testing import CliRunner

from meshclaw.cli.main import app

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def run(data_dir: Path, *args: str) -> Done:
    env: dict[str, str | None] = dict.fromkeys((k for k in os.environ if k.startswith("MESHCLAW_")), None)
    env.update({"MESHCLAW_DATA_DIR": str(data_dir), "COLUMNS": "200"})
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Done(result.exit_code, result.stdout, result.stderr)


def test_check_a_valid_skill(tmp_path: Path) -> None:
    done = run(tmp_path, "skills", "check", str(FIXTURES / "pdf-notes"))
    assert done.returncode == 0, done.stderr
    assert "ok: pdf-notes" in done.stdout
    assert "they are not run" in done.stdout


def test_check_a_folder_of_skills_reports_each(tmp_path: Path) -> None:
    done = run(tmp_path, "skills", "check", str(FIXTURES))
    assert done.returncode == 1
    assert "ok: pdf-notes" in done.stdout
    assert "ok: extra-fields" in done.stdout
    assert "warning:" in done.stderr and "'argument-hint'" in done.stderr
    for folder in ("bad_Name", "no-description", "name-mismatch"):
        assert f"error: {FIXTURES / folder / 'SKILL.md'}:" in done.stderr


def test_install_then_list(tmp_path: Path) -> None:
    assert "No skills installed" in run(tmp_path, "skills", "list").stdout
    done = run(tmp_path, "skills", "install", str(FIXTURES / "pdf-notes"))
    assert done.returncode == 0, done.stderr
    assert "Installed skill 'pdf-notes'" in done.stdout
    again = run(tmp_path, "skills", "install", str(FIXTURES / "pdf-notes"))
    assert again.returncode == 2
    assert "pass --replace" in again.stderr
    listed = orjson.loads(run(tmp_path, "skills", "list", "--json").stdout)
    assert [(row["name"], row["has_scripts"], row["errors"]) for row in listed] == [("pdf-notes", True, [])]
    assert "pdf-notes" in run(tmp_path, "skills", "list").stdout


def test_install_an_invalid_skill_lists_its_problems(tmp_path: Path) -> None:
    done = run(tmp_path, "skills", "install", str(FIXTURES / "no-description"))
    assert done.returncode == 2
    assert "is not a valid skill (1 problem)" in done.stderr
    assert "field 'description' is required and missing" in done.stderr
