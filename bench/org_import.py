"""How long onboarding an organization takes: `meshclaw org import` on a realistic 1,000-person file.

The bar (Foundation issue): 1,000 people in under 5 seconds, end to end. Two numbers per backend:

- the command an operator types, `meshclaw org import people.csv`, in a subprocess, so Python start-up,
  imports, the migration check, parsing, validation and the write are all counted;
- `parse_file` + `import_rows` in this process, which is the part the import code itself controls.

Each run gets a freshly migrated, empty database (what a deployment looks like before onboarding), and
the median of the runs is reported, because the machine is shared and noisy. PostgreSQL runs with its
normal durability (fsync on), on a private server started for the run.

    .venv/bin/python -m bench.org_import [--people 1000] [--runs 5] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from meshclaw.db.models import Team, User
from meshclaw.identity import store
from meshclaw.identity.org_import import import_rows, parse_file

ROOT = Path(__file__).resolve().parent.parent
MESHCLAW = Path(sys.executable).with_name("meshclaw")
RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = """# Benchmark results

Measured on the development machine: 2 CPU cores, shared with other engineers' builds and tests at the
same time, so timings are noisy. Every figure is the **median** of several runs; the individual runs are
listed so the spread is visible. Each section records the exact command that produced it.
"""

DEPARTMENTS: dict[str, list[str]] = {
    "Engineering": ["Platform", "Runtime", "Data", "Security", "Web"],
    "Sales": ["EMEA Sales", "Americas Sales", "APAC Sales", "Sales Operations", "Partnerships"],
    "Marketing": ["Brand", "Growth", "Content", "Events", "Product Marketing"],
    "Operations": ["IT", "Facilities", "Procurement", "Legal", "Support"],
    "Finance": ["Accounting", "Payroll", "Treasury", "Tax", "Planning"],
}
FIRST = ["ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "edsger", "frances", "john"]
LAST = ["lovelace", "turing", "hopper", "torvalds", "hamilton", "thompson", "liskov", "dijkstra", "allen"]


def team_paths() -> dict[str, str]:
    """Team name -> `Parent/Child` path: 5 departments, 5 teams each, the last one nested one level deeper
    (30 teams, three levels)."""
    paths: dict[str, str] = {}
    for department, teams in DEPARTMENTS.items():
        paths[department] = department
        for team in teams[:-1]:
            paths[team] = f"{department}/{team}"
        paths[teams[-1]] = f"{department}/{teams[0]}/{teams[-1]}"
    return paths


def people_csv(count: int, *, seed: int = 7) -> str:
    """A CEO, department heads, team leads and members, with auditors and a second admin; rows shuffled
    as an HR export sorted by something else would be, so managers often come after their reports."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    paths = team_paths()
    rows: list[tuple[str, str, str, str, str]] = []
    serial = iter(range(1, 10 * count))

    def person(team: str, manager: str, role: str) -> str:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{next(serial)}@example.org"
        rows.append((email, f"{first.title()} {last.title()}", paths.get(team, ""), manager, role))
        return email

    ceo = person("", "", "admin")
    person("", ceo, "admin")
    leads: dict[str, str] = {}
    for department, teams in DEPARTMENTS.items():
        head = person(department, ceo, "manager")
        for team in teams:
            leads[team] = person(team, head, "manager")
    for _ in range(3):
        person("Finance", ceo, "auditor")
    member_teams = list(leads)
    while len(rows) < count:
        team = rng.choice(member_teams)
        person(team, leads[team], "member")
    rng.shuffle(rows)
    lines = ["email,name,team,manager_email,role", *(",".join(row) for row in rows)]
    return "\n".join(lines) + "\n"


@contextmanager
def sqlite_databases() -> Iterator[Callable[[], tuple[dict[str, str], AppContext]]]:
    """Hands out fresh SQLite data directories: (environment for the CLI, an in-process context)."""
    with tempfile.TemporaryDirectory(prefix="meshclaw-bench-") as root:
        counter = iter(range(1_000_000))

        def fresh() -> tuple[dict[str, str], AppContext]:
            data_dir = Path(root) / f"run{next(counter)}"
            data_dir.mkdir()
            return {"MESHCLAW_DATA_DIR": str(data_dir)}, AppContext.from_settings(
                load_settings(data_dir=data_dir)
            )

        yield fresh


@contextmanager
def postgres_databases() -> Iterator[Callable[[], tuple[dict[str, str], AppContext]]]:
    """Hands out fresh databases on a private PostgreSQL server with normal durability (fsync on)."""
    sys.path.insert(0, str(ROOT))
    from tests.postgres import private_postgres

    with (
        private_postgres(durable=True) as server,
        tempfile.TemporaryDirectory(prefix="meshclaw-bench-") as root,
    ):
        counter = iter(range(1_000_000))

        def fresh() -> tuple[dict[str, str], AppContext]:
            database_url = server.url(server.create_database("bench"))
            data_dir = Path(root) / f"run{next(counter)}"
            data_dir.mkdir()
            env = {"MESHCLAW_DATA_DIR": str(data_dir), "MESHCLAW_DATABASE_URL": database_url}
            context = AppContext.from_settings(load_settings(data_dir=data_dir, database_url=database_url))
            return env, context

        yield fresh


def prepared(context: AppContext) -> int:
    """Migrate and create the organization, as `meshclaw up` would have; refuse a non-empty database."""
    upgrade(context.db)
    with context.db.session() as session:
        org, _ = store.ensure_org(session, name="Bench Org", now=context.clock.now())
        if session.scalar(select(func.count()).select_from(User)):
            raise SystemExit("the benchmark database already has users; give an empty one")
        return org.id


def counted(context: AppContext) -> tuple[int, int]:
    with context.db.session() as session:
        users = session.scalar(select(func.count()).select_from(User)) or 0
        teams = session.scalar(select(func.count()).select_from(Team)) or 0
        return users, teams


def time_cli(csv_path: Path, env: dict[str, str]) -> float:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESHCLAW_")}
    start = time.perf_counter()
    result = subprocess.run(
        [str(MESHCLAW), "org", "import", str(csv_path)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"meshclaw org import failed ({result.returncode}):\n{result.stderr}")
    return elapsed


def time_in_process(data: bytes, context: AppContext, org_id: int) -> float:
    start = time.perf_counter()
    rows = parse_file(data, filename="people.csv")
    with context.db.session() as session:
        import_rows(session, rows, org_id=org_id, now=context.clock.now())
    return time.perf_counter() - start


def time_startup() -> float:
    start = time.perf_counter()
    subprocess.run([str(MESHCLAW), "--help"], capture_output=True, timeout=120, check=True)
    return time.perf_counter() - start


def measure(
    name: str, fresh: Callable[[], tuple[dict[str, str], AppContext]], csv_path: Path, runs: int, people: int
) -> dict[str, list[float]]:
    data = csv_path.read_bytes()
    results: dict[str, list[float]] = {"cli": [], "in_process": []}
    for run in range(runs):
        for kind in ("cli", "in_process"):
            env, context = fresh()
            try:
                org_id = prepared(context)
                elapsed = time_cli(csv_path, env) if kind == "cli" else time_in_process(data, context, org_id)
                users, teams = counted(context)
            finally:
                context.db.dispose()
            if users != people or teams != len(team_paths()):
                raise SystemExit(
                    f"{name} {kind}: expected {people} users and 30 teams, found {users}, {teams}"
                )
            results[kind].append(elapsed)
            print(f"{name} run {run + 1}/{runs} {kind}: {elapsed:.2f} s", flush=True)
    return results


def seconds(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s"


def report(
    command: str, people: int, runs: int, startup: list[float], by_backend: dict[str, dict[str, list[float]]]
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## Org import: {people:,} people, {len(team_paths())} teams ({when})",
        "",
        f"Command: `{command}`",
        "",
        "Each run imports the same generated CSV (`bench/org_import.py`: a CEO, 5 department heads, 25 team "
        "leads, auditors, members; teams three levels deep; rows shuffled) into a freshly migrated, empty "
        "database. End to end is `meshclaw org import people.csv` in a subprocess, start-up included; in "
        "process is `parse_file` + `import_rows` + commit. Bar: under 5 s end to end.",
        "",
        f"| backend | `meshclaw org import` end to end (median of {runs}) | in process (median of {runs}) | end-to-end runs | in-process runs |",
        "|---|---|---|---|---|",
    ]
    for backend, results in by_backend.items():
        cli, inproc = results["cli"], results["in_process"]
        lines.append(
            f"| {backend} | {seconds(cli)} | {seconds(inproc)} | "
            f"{', '.join(f'{v:.2f}' for v in cli)} | {', '.join(f'{v:.2f}' for v in inproc)} |"
        )
    lines += [
        "",
        f"For scale: `meshclaw --help` alone (Python start-up and imports) takes {seconds(startup)} "
        f"(median of {len(startup)}: {', '.join(f'{v:.2f}' for v in startup)}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print the results, do not append them")
    args = parser.parse_args()
    command = " ".join([".venv/bin/python -m bench.org_import", *map(shlex.quote, sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="meshclaw-bench-csv-") as tmp:
        csv_path = Path(tmp) / "people.csv"
        csv_path.write_text(people_csv(args.people))
        startup = [time_startup() for _ in range(3)]
        by_backend: dict[str, dict[str, list[float]]] = {}
        with sqlite_databases() as fresh:
            by_backend["SQLite"] = measure("sqlite", fresh, csv_path, args.runs, args.people)
        if not args.skip_postgres:
            with postgres_databases() as fresh:
                by_backend["PostgreSQL 15"] = measure("postgresql", fresh, csv_path, args.runs, args.people)
    text = report(command, args.people, args.runs, startup, by_backend)
    print(text)
    if not args.no_write:
        existing = RESULTS.read_text() if RESULTS.exists() else HEADER
        RESULTS.write_text(existing.rstrip("\n") + "\n\n" + text)
        print(f"appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
