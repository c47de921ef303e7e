"""`meshclaw skills list|check PATH|install PATH`: the Agent Skills installed in the data directory.

No database is needed: skills are folders under `<data_dir>/skills/`. The skills package is imported
inside each command, so `meshclaw --help` does not pay for YAML parsing it does not use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from meshclaw.cli.state import console, err_console, fails_cleanly, state_of

skills_app = typer.Typer(
    help="Agent Skills (folders with a SKILL.md, agentskills.io) that agents can be given.",
    no_args_is_help=True,
)

_SCRIPTS_NOTE = "has scripts: they are not run (running one counts as an unclassified, destructive tool)"


@skills_app.command("list")
@fails_cleanly
def skills_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The installed skills, with any that no longer validate marked broken."""
    from meshclaw.agents.skills.library import SkillLibrary

    library = SkillLibrary.in_data_dir(state_of(ctx).settings().data_dir)
    checks = library.checks()
    if as_json:
        rows = [
            {
                "name": check.skill.name if check.skill else check.path.name,
                "description": check.skill.description if check.skill else None,
                "path": str(check.path),
                "has_scripts": bool(check.skill and check.skill.has_scripts),
                "errors": list(check.errors),
                "warnings": list(check.warnings),
            }
            for check in checks
        ]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if not checks:
        console().print(
            f"No skills installed in {library.root}; add one with `meshclaw skills install PATH`."
        )
        return
    table = Table("name", "description", "notes")
    for check in checks:
        if check.skill is None:
            table.add_row(check.path.name, "", f"broken: {'; '.join(check.errors)}")
        else:
            table.add_row(
                check.skill.name, check.skill.description, _SCRIPTS_NOTE if check.skill.has_scripts else ""
            )
    console().print(table)


@skills_app.command("check")
@fails_cleanly
def skills_check(
    path: Annotated[Path, typer.Argument(help="A skill folder, or a folder of skill folders")],
) -> None:
    """Validate skill folders against the Agent Skills spec; exit 1 when any is invalid."""
    from meshclaw.agents.skills.manifest import SKILL_FILE, check_skill

    folders = [path]
    if path.is_dir() and not (path / SKILL_FILE).exists():
        folders = sorted(child for child in path.iterdir() if (child / SKILL_FILE).is_file()) or [path]
    failed = 0
    for folder in folders:
        result = check_skill(folder)
        for warning in result.warnings:
            err_console().print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
        if result.skill is None:
            failed += 1
            for error in result.errors:
                err_console().print(f"[red]error:[/red] {error}", highlight=False)
            continue
        note = f" ({_SCRIPTS_NOTE})" if result.skill.has_scripts else ""
        console().print(f"ok: {result.skill.name} at {folder}{note}", highlight=False)
    if failed:
        raise typer.Exit(1)


@skills_app.command("install")
@fails_cleanly
def skills_install(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The skill folder to copy in (it holds SKILL.md)")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite an installed skill of the same name")
    ] = False,
) -> None:
    """Validate a skill folder and copy it to <data_dir>/skills/<name>/."""
    from meshclaw.agents.skills.library import SkillLibrary

    library = SkillLibrary.in_data_dir(state_of(ctx).settings().data_dir)
    skill = library.install(path, replace=replace)
    for warning in skill.warnings:
        err_console().print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    console().print(f"Installed skill '{skill.name}' at {skill.folder}.", highlight=False)
    if skill.has_scripts:
        err_console().print(f"note: '{skill.name}' {_SCRIPTS_NOTE}.", highlight=False)
