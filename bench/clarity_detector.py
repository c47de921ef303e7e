"""How well Clarity's tokenmaxxing detector finds the simulator's labelled behaviours.

Simulates an organization (`meshclaw.simulation`, the code behind `meshclaw simulate`) into a fresh SQLite
data directory, publishes the simulation's weekly effective-token target as the organization's target
(Clarity's settings), runs `detect_flags(session, week)` over the last complete weeks (the first weeks
are the history the bunching and spike signals compare with), and compares the flags with the labels
file:

- per behaviour, recall: the share of its subject-weeks (subjects with usage that week) that were flagged;
  for the honest behaviours (genuine heavy, moderate, light, productive agents) that share is the false
  positive rate, and genuine heavy users must never be flagged;
- precision: the share of flags that point at a tokenmaxxer or a runaway agent.

    .venv/bin/python -m bench.clarity_detector [--people 600] [--days 56] [--weeks 4] [--seed 1] [--no-write]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from meshclaw.db.models import UsageEventRow, User
from meshclaw.identity import store
from meshclaw.simulation.run import LABELS_FILE, SimulationOptions, simulate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("RESULTS.md")
LAST_DAY = date(2026, 11, 29)
"""A Sunday, so the simulation ends with a complete week."""
HONEST = ("genuine_heavy", "moderate", "light", "non_user", "productive_agent")


def active_subjects(context: AppContext, week: date) -> set[tuple[str, int]]:
    """("person", user id) for people with their own calls in the week, ("agent", id) for agents."""
    start = datetime(week.year, week.month, week.day, tzinfo=UTC)
    query = (
        select(UsageEventRow.user_id, UsageEventRow.agent_id)
        .where(UsageEventRow.started_at >= start, UsageEventRow.started_at < start + timedelta(days=7))
        .distinct()
    )
    found: set[tuple[str, int]] = set()
    with context.db.session() as session:
        for user_id, agent_id in session.execute(query):
            if agent_id:
                found.add(("agent", agent_id))
            elif user_id:
                found.add(("person", user_id))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=600)
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--weeks", type=int, default=4, help="complete weeks scored, the last ones")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print the results, do not append them")
    args = parser.parse_args()
    command = " ".join([".venv/bin/python -m bench.clarity_detector", *map(shlex.quote, sys.argv[1:])])
    try:
        from meshclaw.clarity.config import DEFAULTS
        from meshclaw.clarity.detector import detect_flags
        from meshclaw.clarity.settings_store import save_config
    except ImportError as exc:
        raise SystemExit(f"skipped: Clarity's detector is not available ({exc})") from None

    with tempfile.TemporaryDirectory(prefix="meshclaw-bench-clarity-") as tmp:
        context = AppContext.from_settings(load_settings(data_dir=Path(tmp)))
        try:
            upgrade(context.db)
            with context.db.session() as session:
                org_id = store.ensure_org(session, name="Bench Org", now=context.clock.now())[0].id
            options = SimulationOptions(people=args.people, days=args.days, seed=args.seed, last_day=LAST_DAY)
            summary = simulate(context, org_id, options)
            print(f"simulated in {summary.seconds:.0f} s: {summary.usage_events:,} usage events", flush=True)
            document = orjson.loads((Path(tmp) / LABELS_FILE).read_bytes())
            labels: dict[str, str] = document["labels"]
            with context.db.session() as session:
                target = int(document["weekly_target_effective_tokens"])
                save_config(session, org_id, replace(DEFAULTS, weekly_token_target=target), by_user_id=None,
                            now=context.clock.now())  # fmt: skip
                emails = dict(session.execute(select(User.id, User.email)).all())
            agent_names = {entry["agent_id"]: name for name, entry in document["agents"].items()}

            def label_of(kind: str, subject_id: int) -> str:
                if kind == "agent":
                    return labels.get(agent_names.get(subject_id, ""), "unlabelled")
                return labels.get(emails.get(subject_id, ""), "unlabelled")

            monday = LAST_DAY - timedelta(days=LAST_DAY.weekday())
            weeks = [monday - timedelta(weeks=index) for index in reversed(range(args.weeks))]
            subject_weeks: Counter[str] = Counter()
            flagged: Counter[str] = Counter()
            fired: dict[str, Counter[str]] = defaultdict(Counter)
            detector_seconds: list[float] = []
            for week in weeks:
                for kind, subject_id in active_subjects(context, week):
                    subject_weeks[label_of(kind, subject_id)] += 1
                with context.db.session() as session:
                    started = time.perf_counter()
                    flags = detect_flags(session, week)
                    detector_seconds.append(time.perf_counter() - started)
                for flag in flags:
                    flagged_id = flag.agent_id if flag.kind == "agent" else flag.user_id
                    label = label_of(flag.kind, flagged_id or 0)
                    flagged[label] += 1
                    fired[label].update(signal.name for signal in flag.signals)
                print(f"week {week}: {len(flags)} flags in {detector_seconds[-1]:.1f} s", flush=True)
        finally:
            context.db.dispose()

    text = report(command, args, summary.seconds, subject_weeks, flagged, fired, detector_seconds, weeks)
    print(text)
    if not args.no_write:
        RESULTS.write_text(RESULTS.read_text().rstrip("\n") + "\n\n" + text)
        print(f"appended to {RESULTS.relative_to(ROOT)}")


def report(
    command: str,
    args: argparse.Namespace,
    simulation_s: float,
    subject_weeks: Counter[str],
    flagged: Counter[str],
    fired: dict[str, Counter[str]],
    detector_seconds: list[float],
    weeks: list[date],
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    positives = [label for label in subject_weeks if label not in HONEST]
    true_flags = sum(flagged[label] for label in positives)
    all_flags = sum(flagged.values())
    positive_weeks = sum(subject_weeks[label] for label in positives)
    precision = true_flags / all_flags if all_flags else 0.0
    recall = true_flags / positive_weeks if positive_weeks else 0.0
    lines = [
        f"## Clarity detector on a simulated organization: {args.people:,} people, {args.days} days ({when})",
        "",
        f"Command: `{command}`",
        "",
        f"The simulator (`meshclaw.simulation`, seed {args.seed}) generated the organization and its use "
        f"in {simulation_s:.0f} s; `detect_flags` scored the {len(weeks)} weeks from {weeks[0]} "
        f"(earlier weeks are history), with the simulation's effective-token target as the organization's "
        f"target. A subject-week counts when the subject had usage that week.",
        "",
        f"Overall: **precision {precision:.2f}** ({true_flags} of {all_flags} flags point at a tokenmaxxer "
        f"or a runaway agent), **recall {recall:.2f}** ({true_flags} of {positive_weeks} tokenmaxxer and "
        f"runaway subject-weeks flagged). Detector time per week: median "
        f"{statistics.median(detector_seconds):.1f} s (runs: {', '.join(f'{s:.1f}' for s in detector_seconds)}).",
        "",
        "| behaviour | subject-weeks | flagged | recall (honest behaviours: false-positive rate) | signals fired |",
        "|---|---|---|---|---|",
    ]
    for label in sorted(subject_weeks, key=lambda name: (name in HONEST, name)):
        share = flagged[label] / subject_weeks[label] if subject_weeks[label] else 0.0
        signals = ", ".join(f"{name} {count}" for name, count in fired[label].most_common(4)) or "-"
        lines.append(f"| {label} | {subject_weeks[label]} | {flagged[label]} | {share:.2f} | {signals} |")
    heavy = flagged["genuine_heavy"]
    lines += [
        "",
        "Genuine heavy users flagged: "
        + ("none." if heavy == 0 else f"**{heavy} subject-weeks: the detector fails this bar.**"),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
