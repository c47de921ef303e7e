"""A realistic organization for a seed: departments, groups and teams three levels deep, a management
chain from every person to the CEO, roles, and each person's behaviour, tool and working hours.

Nothing here touches the database: `import_rows()` turns the people into the rows identity's org import
takes (the same path as `meshclaw org import people.csv`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate
from typing import Literal

from meshclaw.simulation.behaviours import (
    AGENT_PURPOSES,
    AGENTS_PER_PERSON,
    PERSON_SHARES,
    RUNAWAY_SHARE,
    AgentLabel,
    PersonLabel,
)

Tool = Literal["claude-code", "cursor", "codex", "chat", "sdk"]
"""claude-code reports over OTLP; the others call models through the gateway (cursor's outcomes arrive
as its daily usage report)."""

DEPARTMENTS: dict[str, float] = {
    "Engineering": 0.5,
    "Sales": 0.14,
    "Operations": 0.1,
    "Product": 0.08,
    "Marketing": 0.08,
    "Finance": 0.05,
    "People": 0.05,
}
ENGINEERING_GROUPS = ("Platform", "Product Engineering", "Data", "Infrastructure", "Security",
                      "Developer Experience", "Mobile", "Machine Learning", "Payments", "Search")  # fmt: skip
TEAM_SUFFIXES = ("Core", "APIs", "Runtime", "Tooling", "Web", "Storage", "Reliability", "Growth", "Billing",
                 "Identity", "Pipelines", "Insights", "EMEA", "Americas", "APAC", "Enablement", "Strategy",
                 "Operations", "Partners", "Analytics")  # fmt: skip
FIRST = ("ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "edsger", "frances", "john", "radia",
         "donald", "sophie", "tim", "hedy", "dennis", "katherine", "guido", "annie", "bjarne", "shafi", "leslie")  # fmt: skip
LAST = ("lovelace", "turing", "hopper", "torvalds", "hamilton", "thompson", "liskov", "dijkstra", "allen",
        "perlman", "knuth", "wilson", "berners", "lamarr", "ritchie", "johnson", "rossum", "easley",
        "stroustrup", "goldwasser", "lamport")  # fmt: skip
ENGINEERING_LEANING: frozenset[PersonLabel] = frozenset(
    {"genuine_heavy", "tokenmaxxer_read_only", "tokenmaxxer_discards", "tokenmaxxer_fan_out",
     "tokenmaxxer_retry_loop", "tokenmaxxer_scripted"}
)  # fmt: skip


@dataclass(kw_only=True)
class SimPerson:
    email: str
    name: str
    team: str
    """The team's `Parent/Child/Grandchild` path, as the org import takes it."""
    department: str
    role: str
    manager_email: str | None
    label: PersonLabel = "moderate"
    tool: Tool = "chat"
    headless: bool = False
    """Runs the tool from a script (Claude Code's `sdk-py` entrypoint) instead of interactively."""
    start_hour: int = 8
    """First working hour, UTC."""
    user_id: int = 0
    """Set once the person is imported."""


@dataclass(kw_only=True)
class SimAgent:
    name: str
    purpose: str
    label: AgentLabel
    owner: SimPerson
    outcome_type: str
    minutes_saved: float
    agent_id: int = 0
    """Set once the agent is defined."""


@dataclass(kw_only=True)
class SimOrg:
    people: list[SimPerson]
    agents: list[SimAgent]
    teams: list[str]


def _team_paths(people: int, rng: random.Random) -> dict[str, list[str]]:
    """Department -> leaf team paths. About one team per 33 people (60 for 2,000) counting departments
    and groups; engineering's teams sit under groups, so the tree is three levels deep."""
    total = max(len(DEPARTMENTS) + 3, round(people / 33))
    leaves_total = total - len(DEPARTMENTS)
    groups = max(1, min(len(ENGINEERING_GROUPS), leaves_total // 4))
    leaves_total -= groups
    leaves: dict[str, list[str]] = {}
    taken: set[str] = set(DEPARTMENTS) | set(ENGINEERING_GROUPS[:groups])
    suffixes = list(TEAM_SUFFIXES)
    for department, weight in DEPARTMENTS.items():
        count = max(groups if department == "Engineering" else 1, round(leaves_total * weight))
        paths: list[str] = []
        for index in range(count):
            parent = ENGINEERING_GROUPS[index % groups] if department == "Engineering" else department
            name = f"{parent} {rng.choice(suffixes)}"
            serial = 2
            while name in taken:
                name = f"{parent} {rng.choice(suffixes)}" if serial < 6 else f"{parent} {serial}"
                serial += 1
            taken.add(name)
            paths.append(
                f"Engineering/{parent}/{name}" if department == "Engineering" else f"{department}/{name}"
            )
        leaves[department] = paths
    return leaves


def _all_teams(leaves: dict[str, list[str]]) -> list[str]:
    names: set[str] = set()
    for paths in leaves.values():
        for path in paths:
            parts = path.split("/")
            names.update("/".join(parts[: index + 1]) for index in range(len(parts)))
    return sorted(names)


def build_org(people: int, *, seed: int, domain: str) -> SimOrg:
    """The organization for `seed`: the same people, teams, behaviours and agents every time."""
    rng = random.Random(f"org:{seed}")  # noqa: S311 - reproducible simulation, not secrets
    leaves = _team_paths(people, rng)
    serial = iter(range(1, 10 * people + 100))
    everyone: list[SimPerson] = []

    def person(team: str, department: str, role: str, manager: SimPerson | None) -> SimPerson:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        member = SimPerson(
            email=f"{first}.{last}{next(serial)}@{domain}",
            name=f"{first.title()} {last.title()}",
            team=team,
            department=department,
            role=role,
            manager_email=manager.email if manager else None,
        )
        everyone.append(member)
        return member

    ceo = person("", "", "admin", None)
    leads: list[tuple[str, str, SimPerson]] = []
    for department, paths in leaves.items():
        head = person(department, department, "manager", ceo)
        group_leads: dict[str, SimPerson] = {}
        for path in paths:
            parts = path.split("/")
            boss = head
            if len(parts) == 3:
                group = "/".join(parts[:2])
                if group not in group_leads:
                    group_leads[group] = person(group, department, "manager", head)
                boss = group_leads[group]
            leads.append((path, department, person(path, department, "manager", boss)))
    finance = next((lead for path, department, lead in leads if department == "Finance"), ceo)
    for _ in range(2 if people >= 100 else 1):
        person(finance.team or "Finance", "Finance", "auditor", finance)
    # Cumulative once: `choices(weights=...)` would re-add them for every person.
    cumulative = list(
        accumulate(DEPARTMENTS[department] / len(leaves[department]) for _, department, _ in leads)
    )
    while len(everyone) < people:
        path, department, lead = rng.choices(leads, cum_weights=cumulative)[0]
        person(path, department, "member", lead)
    everyone = everyone[:people]
    _assign_behaviours(everyone, ceo, rng)
    agents = _agents(everyone, rng)
    return SimOrg(people=everyone, agents=agents, teams=_all_teams(leaves))


def _assign_behaviours(everyone: list[SimPerson], ceo: SimPerson, rng: random.Random) -> None:
    engineers = [p for p in everyone if p.department == "Engineering" and p is not ceo]
    others = [p for p in everyone if p.department != "Engineering" and p is not ceo]
    rng.shuffle(engineers)
    rng.shuffle(others)
    for label, share in PERSON_SHARES.items():
        quota = max(1, round(share * len(everyone)))
        pools = (engineers, others) if label in ENGINEERING_LEANING else (others, engineers)
        for _ in range(quota):
            pool = pools[0] if pools[0] and (label in ENGINEERING_LEANING or rng.random() < 0.5) else pools[1]
            if not pool:
                pool = pools[0] if pools[0] else pools[1]
            if not pool:
                break
            pool.pop().label = label
    for member in everyone:
        _assign_tool(member, rng)
        member.start_hour = rng.choices((7, 8, 9, 13, 14, 15, 0, 1), weights=(2, 3, 2, 1, 2, 1, 0.5, 0.5))[0]


def _assign_tool(member: SimPerson, rng: random.Random) -> None:
    coding: tuple[Tool, ...] = ("claude-code", "cursor", "codex")
    tool: Tool = (
        rng.choices(coding, weights=(35, 35, 30))[0] if member.department == "Engineering" else "chat"
    )
    label = member.label
    if label == "tokenmaxxer_read_only":
        tool = "claude-code"
    elif label == "tokenmaxxer_scripted":
        tool = rng.choice(("claude-code", "sdk"))
        member.headless = tool == "claude-code"
    elif label == "tokenmaxxer_retry_loop" and rng.random() < 0.7:
        tool = "claude-code"
    elif label == "tokenmaxxer_discards":
        tool = rng.choice(("claude-code", "cursor"))
    elif label == "tokenmaxxer_fan_out":
        tool = rng.choice(("claude-code", "codex"))
    elif label == "tokenmaxxer_repetition" and tool == "claude-code":
        tool = "cursor"  # repetition shows in prompt hashes, which only the gateway sees
    member.tool = tool


def _agents(everyone: list[SimPerson], rng: random.Random) -> list[SimAgent]:
    count = max(2, round(len(everyone) * AGENTS_PER_PERSON))
    runaway = max(1, round(count * RUNAWAY_SHARE))
    owners = [p for p in everyone if p.label in ("genuine_heavy", "moderate", "light")] or everyone
    agents: list[SimAgent] = []
    purposes = list(AGENT_PURPOSES)
    for index in range(count):
        purpose = purposes[index % len(purposes)]
        outcome_type, minutes = AGENT_PURPOSES[purpose]
        label: AgentLabel = "runaway_agent" if index < runaway else "productive_agent"
        agents.append(
            SimAgent(
                name=f"{purpose}-{index + 1}",
                purpose=f"Simulated {purpose.replace('-', ' ')}: no model, no schedule, made-up usage.",
                label=label,
                owner=rng.choice(owners),
                outcome_type=outcome_type,
                minutes_saved=minutes,
            )
        )
    return agents


def import_rows(org: SimOrg) -> list[dict[str, str]]:
    """The people as `identity.org_import.import_rows` takes them (the columns of `meshclaw org import`)."""
    return [
        {
            "email": p.email,
            "name": p.name,
            "team": p.team,
            "manager_email": p.manager_email or "",
            "role": p.role,
        }
        for p in org.people
    ]
