"""Clarity's dashboard at a year of 5,000 people: p50/p95 of every page and API read, as an admin.

Builds the database once in `--data-dir` (default /work/.bench-clarity/sqlite, outside the repository;
~10 million usage events, see `bench.clarity_data`), with rollups from `meshclaw.metering.rollup_rebuild`
and Clarity's precomputed tables from `meshclaw.clarity.summaries`, then reuses it on later runs. The
app is the real one (`create_app`) driven in-process by Starlette's TestClient, signed in through the
login form as an admin, which sees everyone (the heaviest reader). Each URL is requested once to warm
up, then `--requests` times; the bar is p95 <= 300 ms for every URL.

    .venv/bin/python -m bench.clarity_dashboard [--requests 20] [--data-dir DIR] [--rebuild] [--no-write]
        [--only NAME] [--summarize-days N] [--score-weeks N]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import text

from bench.clarity_data import ADMIN_EMAIL, ADMIN_PASSWORD, FIRST_DAY, LAST_DAY, build_events
from meshclaw.clarity.detector import detect_flags
from meshclaw.clarity.flag_store import score_due
from meshclaw.clarity.summaries import refresh
from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from meshclaw.identity import store
from meshclaw.identity.passwords import hash_password
from meshclaw.identity.principal import Role
from meshclaw.metering.rollup_rebuild import rebuild_rollups
from meshclaw.server.app import create_app

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("RESULTS.md")
DEFAULT_DIR = Path("/work/.bench-clarity/sqlite")
MARKER = "built.json"
BAR_MS = 300.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _context(data_dir: Path) -> AppContext:
    return AppContext.from_settings(load_settings(data_dir=data_dir))


def build(data_dir: Path, *, people: int, seed: int) -> dict[str, object]:
    """Schema by the migrations, the admin through the identity store, events in bulk, then the rollups
    (`rebuild_rollups`, the writer's bulk twin) and Clarity's tables (`summaries.refresh`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    context = _context(data_dir)
    try:
        upgrade(context.db)
        with context.db.session() as session:
            org = store.ensure_org(session, name="Bench Org", now=context.clock.now())[0]
            store.create_user(session, org_id=org.id, email=ADMIN_EMAIL, role=Role.ADMIN,
                              password_hash=hash_password(ADMIN_PASSWORD), now=context.clock.now())  # fmt: skip
            org_id = org.id
    finally:
        context.db.dispose()
    built = build_events(
        data_dir / "meshclaw.db", org_id=org_id, people=people, seed=seed, now=datetime.now(UTC)
    )
    timings["events_s"] = time.perf_counter() - started
    print(f"events: {built}", flush=True)
    context = _context(data_dir)
    try:
        mark = time.perf_counter()
        # One pass over the whole tables: the events were loaded person by person, so a month's range
        # read through the time index is a random read per event (a first build by month took ~5 min a
        # month on the loaded machine).
        with context.db.engine.begin() as connection:
            rebuild_rollups(connection)
        timings["rollups_s"] = time.perf_counter() - mark
        timings["clarity_tables_s"] = summarize(context)
        with context.db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    finally:
        context.db.dispose()
    facts: dict[str, object] = {
        "people": built.people,
        "teams": built.teams,
        "usage_events": built.usage_events,
        "outcome_events": built.outcome_events,
        "activity_events": built.activity_events,
        "first_day": FIRST_DAY.isoformat(),
        "last_day": LAST_DAY.isoformat(),
        "seed": seed,
        "built_at": datetime.now(UTC).isoformat(),
        **{key: round(value, 1) for key, value in timings.items()},
    }
    (data_dir / MARKER).write_bytes(orjson.dumps(facts, option=orjson.OPT_INDENT_2))
    return facts


def summarize(context: AppContext, max_days: int | None = None) -> float:
    """Bring Clarity's day and week tables up to date (`summaries.refresh`, newest days first), a month
    of days per transaction, or only the newest `max_days`; returns the seconds it took."""
    started = time.perf_counter()
    summed = 0
    while max_days is None or summed < max_days:
        summed += 31
        with context.db.session() as session:
            done = refresh(session, limit=31)
        if done.days or done.backfilled or done.team_weeks:
            print(
                f"summed {done.days} days, {done.weeks} weeks; usage weeks {done.usage_weeks} "
                f"({done.backfilled} never written before); team weeks {done.team_weeks}",
                flush=True,
            )
        if not done.days and not done.backfilled:
            break
    return round(time.perf_counter() - started, 1)


def score_flags(context: AppContext, max_weeks: int | None = None) -> float:
    """Score the flag weeks that are due, as the server's upkeep does (`flag_store.score_due`, newest
    first, a week per transaction), at most `max_weeks`; returns the seconds it took."""
    started = time.perf_counter()
    scored = 0
    while max_weeks is None or scored < max_weeks:
        with context.db.session() as session:
            mark = time.perf_counter()
            done = score_due(session, now=context.clock.now(), limit=1)
        if not done:
            break
        scored += 1
        print(f"scored flag week {done[0]} in {time.perf_counter() - mark:.1f} s", flush=True)
    return round(time.perf_counter() - started, 1)


def time_detector(context: AppContext, weeks: int) -> list[tuple[date, int, float]]:
    """(week, flags, seconds) of `detect_flags` over the last `weeks` complete weeks of the data."""
    last_monday = LAST_DAY - timedelta(days=LAST_DAY.weekday() + 7)
    found = []
    for index in reversed(range(weeks)):
        monday = last_monday - timedelta(weeks=index)
        with context.db.session() as session:
            started = time.perf_counter()
            flags = detect_flags(session, monday)
            seconds = time.perf_counter() - started
        found.append((monday, len(flags), seconds))
        print(f"detector week {monday}: {len(flags)} flags in {seconds:.1f} s", flush=True)
    return found


def urls(today: date) -> list[tuple[str, str]]:
    """What a person opens: pages with their default range, 90 days and the pages' longest range (182
    days), and the API reads with the default, 90 days and a year where the API allows one."""
    team, person = "100", "4321"  # a leaf team and a moderate-to-heavy user of the generated organization
    year = (
        f"since={(today - timedelta(days=365)).isoformat()}&until={(today + timedelta(days=1)).isoformat()}"
    )
    q90 = f"since={(today - timedelta(days=89)).isoformat()}&until={(today + timedelta(days=1)).isoformat()}"
    pages = [
        ("overview", "/clarity"),
        ("team", f"/clarity/teams/{team}"),
        ("person", f"/clarity/people/{person}"),
        ("models", "/clarity/models"),
        ("agents", "/clarity/agents"),
        ("agent", "/clarity/agents/7"),
        ("flags", "/clarity/flags"),
    ]
    found: list[tuple[str, str]] = []
    for name, path in pages:
        found.append((f"page {name}", path))
        found.append((f"page {name} 90d", f"{path}?days=90"))
        found.append(
            (f"page {name} 182d", f"{path}?from={(today - timedelta(days=181)).isoformat()}&to={today}")
        )
    api = "/api/v1/clarity"
    found += [
        ("api adoption", f"{api}/adoption"),
        ("api adoption 182d", f"{api}/adoption?since={(today - timedelta(days=181)).isoformat()}"),
        ("api adoption team", f"{api}/adoption?team={team}"),
        ("api usage by team", f"{api}/usage?group_by=team"),
        ("api usage by team 1y", f"{api}/usage?group_by=team&{year}"),
        ("api usage by person", f"{api}/usage?group_by=user"),
        ("api usage by person 90d", f"{api}/usage?group_by=user&{q90}"),
        ("api usage by model daily 1y", f"{api}/usage?group_by=model&series=true&{year}"),
        ("api usage by agent 1y", f"{api}/usage?group_by=agent&{year}"),
        ("api usage person daily 1y", f"{api}/usage?user={person}&series=true&{year}"),
        ("api outcomes", f"{api}/outcomes"),
        ("api outcomes 1y", f"{api}/outcomes?{year}"),
        ("api outcomes team 1y", f"{api}/outcomes?team={team}&{year}"),
        ("api leaderboard", f"{api}/leaderboard"),
        ("api leaderboard 182d", f"{api}/leaderboard?since={(today - timedelta(days=181)).isoformat()}"),
        ("api forecast", f"{api}/forecast"),
        ("api flags", f"{api}/flags"),
    ]
    return found


def sign_in(client: TestClient) -> None:
    form = client.get("/login")
    found = _CSRF.search(form.text)
    assert found, "the login page has no csrf_token"
    answer = client.post(
        "/login",
        data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": found.group(1), "next": ""},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def measure(
    data_dir: Path, requests: int, only: str | None, max_days: int | None, score_weeks: int | None
) -> list[tuple[str, str, int, float, float, float]]:
    """(name, url, status, first request ms, p50 ms, p95 ms) per URL, once Clarity's tables are summed and
    the due flag weeks scored (what the server's upkeep does at start, before the pages are timed)."""
    context = _context(data_dir)
    results = []
    try:
        upgrade(context.db)  # a database built before the newest migrations
        print(f"Clarity's tables brought up to date in {summarize(context, max_days)} s", flush=True)
        print(f"Due flag weeks scored in {score_flags(context, score_weeks)} s", flush=True)
        with TestClient(create_app(context, freeze_gc=True)) as client:  # as `meshclaw up` runs it
            sign_in(client)
            for name, url in urls(context.clock.now().date()):
                if only and only not in name:
                    continue
                started = time.perf_counter()
                first = client.get(url)
                first_ms = (time.perf_counter() - started) * 1000
                samples = []
                for _ in range(requests):
                    started = time.perf_counter()
                    answer = client.get(url)
                    samples.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == first.status_code
                samples.sort()
                p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
                results.append((name, url, first.status_code, first_ms, statistics.median(samples), p95))
                print(
                    f"{name:32s} {first.status_code} first {first_ms:8.1f}  p50 {results[-1][4]:7.1f}  p95 {p95:7.1f}",
                    flush=True,
                )
    finally:
        context.db.dispose()
    return results


def report(command: str, facts: dict[str, object], results: list[tuple[str, str, int, float, float, float]],
           load: tuple[float, float, float], requests: int) -> str:  # fmt: skip
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    over = [name for name, _, _, _, _, p95 in results if p95 > BAR_MS]
    lines = [
        f"## Clarity dashboard at {int(str(facts['usage_events'])):,} usage events, SQLite ({when})",
        "",
        f"Command: `{command}`",
        "",
        f"Data (`bench.clarity_data`, seed {facts['seed']}): {facts['people']} people in {facts['teams']} leaf "
        f"teams, {int(str(facts['usage_events'])):,} usage, {int(str(facts['outcome_events'])):,} outcome and "
        f"{int(str(facts['activity_events'])):,} activity events from {facts['first_day']} to {facts['last_day']}. "
        f"Built in {facts.get('events_s')} s (events) + {facts.get('rollups_s')} s (rollups) + "
        f"{facts.get('clarity_tables_s', '-')} s (Clarity's tables). Signed in as an admin; TestClient "
        f"in-process; 1 warm-up then {requests} requests per URL. Load average at the start: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared).",
        "",
        "| URL | status | first ms | p50 ms | p95 ms |",
        "|---|---|---|---|---|",
    ]
    for name, url, status, first, p50, p95 in results:
        mark = " **over**" if p95 > BAR_MS else ""
        lines.append(f"| {name} `{url}` | {status} | {first:.0f} | {p50:.0f} | {p95:.0f}{mark} |")
    lines += ["", f"Over the {BAR_MS:.0f} ms bar: " + (", ".join(over) if over else "none."), ""]
    return "\n".join(lines)


def detector_report(
    command: str,
    facts: dict[str, object],
    timed: list[tuple[date, int, float]],
    load: tuple[float, float, float],
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    median = statistics.median(seconds for _, _, seconds in timed)
    runs = ", ".join(f"{monday}: {seconds:.1f} s ({flags} flags)" for monday, flags, seconds in timed)
    return "\n".join(
        [
            f"## Clarity detector, a week of {facts['people']} people at {int(str(facts['usage_events'])):,} "
            f"usage events a year, SQLite ({when})",
            "",
            f"Command: `{command}`",
            "",
            f"`detect_flags(session, week)` on the dashboard benchmark's database (`bench.clarity_data`); load "
            f"average at the start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared). Median "
            f"**{median:.1f} s** per week (bar 60 s); runs: {runs}.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--only", help="measure only the URLs whose name contains this")
    parser.add_argument("--rebuild", action="store_true", help="delete and build the database again")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--summarize-days",
        type=int,
        help="sum only the newest N stale days first (the rest read the rollups)",
    )
    parser.add_argument(
        "--score-weeks",
        type=int,
        help="score at most N due flag weeks before measuring (default: all, as the server's upkeep does)",
    )
    parser.add_argument("--detector-weeks", type=int, default=0, help="time the detector on the last N weeks")
    parser.add_argument("--no-write", action="store_true", help="print the results, do not append them")
    args = parser.parse_args()
    command = " ".join([".venv/bin/python -m bench.clarity_dashboard", *map(shlex.quote, sys.argv[1:])])
    marker = args.data_dir / MARKER
    if args.rebuild and args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    if marker.exists():
        facts = orjson.loads(marker.read_bytes())
        print(f"reusing {args.data_dir}: {facts}", flush=True)
    else:
        if args.data_dir.exists():
            shutil.rmtree(args.data_dir)  # a build that did not finish
        facts = build(args.data_dir, people=args.people, seed=args.seed)
        print(f"built {args.data_dir}: {facts}", flush=True)
    if args.build_only:
        return
    load = os.getloadavg()
    if args.detector_weeks:
        context = _context(args.data_dir)
        try:
            timed = time_detector(context, args.detector_weeks)
        finally:
            context.db.dispose()
        text_out = detector_report(command, facts, timed, load)
    else:
        results = measure(args.data_dir, args.requests, args.only, args.summarize_days, args.score_weeks)
        text_out = report(command, facts, results, load, args.requests)
    print(text_out)
    if not args.no_write:
        RESULTS.write_text(RESULTS.read_text().rstrip("\n") + "\n\n" + text_out)
        print(f"appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
