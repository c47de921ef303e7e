"""Every command takes odd arguments (very long, a 70-bit number, control characters) with a clean
`error: ...` or a usage error, never a traceback: each argument and option of each command in turn, the
command's other required values given as "1". Commands are found from the CLI itself, so a new one is
covered. Left out: those that start a server or wait on runs (`up`, `demo`, `simulate`, `agents run`,
`agents dream`) and `vault rotate-kek` (it would write a key file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from meshclaw.cli.main import app
from tests.cli_runner import run_cli

SKIPPED = {"up", "demo", "simulate", "agents run", "agents dream", "vault rotate-kek"}
ODD = ["x" * 3000, "9" * 5000, str(2**70), "ü🙂\x00\u202e"]


def commands(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from commands(sub, [*path, name])
    else:
        yield " ".join(path), command


def calls(name: str, command: Any) -> Iterator[list[str]]:
    """The command line with each of its parameters set to each odd value, the rest required given "1"."""
    params = [p for p in command.params if not getattr(p, "is_flag", False)]
    arguments = [p for p in params if p.param_type_name == "argument"]
    required = [p for p in params if p.param_type_name == "option" and p.required]
    for param in params:
        for value in ODD:
            line = name.split()
            line += [value if a is param else "1" for a in arguments if a.required or a is param]
            if param.param_type_name == "option":
                line += [param.opts[0], value]
            for option in required:
                if option is not param:
                    line += [option.opts[0], "1"]
            yield line


def test_odd_arguments_never_end_in_a_traceback(tmp_path: Path) -> None:
    run_cli(tmp_path, "users", "add", "admin@example.org", "--role", "admin")
    sent, wrong = 0, []
    for name, command in commands(typer.main.get_command(app), []):
        if name in SKIPPED:
            continue
        for line in calls(name, command):
            done = run_cli(tmp_path, *line, stdin="")  # raises on an exception other than SystemExit
            sent += 1
            if done.returncode not in (0, 1, 2) or "Traceback" in done.stdout + done.stderr:
                wrong.append(f"meshclaw {' '.join(line)[:80]!r}: exit {done.returncode}")
    assert sent > 200, f"only {sent} command lines"
    assert wrong == [], "\n".join(wrong)
