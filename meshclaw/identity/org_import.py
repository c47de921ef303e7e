"""Onboarding an organization from a CSV or JSON file: `email,name,team,manager_email,role`.

The import is all or nothing. Every row is validated first (formats, duplicates within the file and
against the database, unknown managers, cycles in the resulting management chain) and every problem is
reported with its row number; only a clean file is written, in one transaction. Teams named in the file
are created as needed; `Parent/Child` creates a nested team.

Speed matters (thousands of people): existing users and teams are loaded once, rows are checked in
memory, and users are inserted in bulk. Imported users get no password: they sign in through SSO or a
reset link.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast

import orjson
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from meshclaw.db.models import Team, User
from meshclaw.errors import InvalidInputError, MeshclawError
from meshclaw.identity import store
from meshclaw.identity.principal import Role

COLUMNS = ("email", "name", "team", "manager_email", "role")
MAX_ROWS = 200_000
MAX_ERRORS_REPORTED = 200

OnExisting = Literal["error", "update"]


@dataclass(frozen=True)
class RowError:
    row: int
    """1-based data row number (the CSV header is not counted)."""
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


class ImportRejectedError(MeshclawError):
    """The file has problems; nothing was written."""

    status = 422
    code = "import_rejected"

    def __init__(self, errors: list[RowError], total_errors: int) -> None:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {total_errors - 5} more)" if total_errors > 5 else ""
        super().__init__(f"import rejected, nothing was written: {total_errors} problem(s): {shown}{more}")
        self.errors = errors
        self.total_errors = total_errors


@dataclass
class ImportReport:
    users_created: int = 0
    users_updated: int = 0
    """Existing people whose name, role, team or manager the import changed."""
    teams_created: list[str] = field(default_factory=list)
    role_changes: list[tuple[int, str, str]] = field(default_factory=list)
    """(user id, old role, new role) of each existing person whose role the import changed: who may act
    is audited person by person, as when an admin changes one role."""


@dataclass(frozen=True)
class _Row:
    number: int
    email: str
    name: str
    team: str | None
    manager_email: str | None
    role: Role


EXTRA_FIELDS = "(extra fields)"
"""Key under which a CSV row keeps the fields it has beyond the header, so validation can report it."""


def _not_utf8(data: bytes) -> ImportRejectedError:
    """Name every line that is not UTF-8 (as a data row number, the header being row 0)."""
    errors = []
    for line_number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(
                RowError(line_number - 1, "encoding", "not UTF-8 text; save the file as UTF-8 (CSV UTF-8)")
            )
    return ImportRejectedError(errors[:MAX_ERRORS_REPORTED], len(errors))


def parse_file(data: bytes, *, filename: str = "") -> list[dict[str, str]]:
    """Rows as dicts of strings, from CSV (with the header above) or JSON (a list, or {"users": [...]}).

    A CSV row with more fields than the header keeps them under `EXTRA_FIELDS`, so validation reports
    every such row instead of stopping at the first. Text that is not UTF-8, or quoting that breaks the
    CSV structure, cannot be read past the problem: those raise `ImportRejectedError` naming the row(s).
    """
    text_start = data.lstrip()[:1]
    if filename.endswith(".json") or text_start in (b"[", b"{"):
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"the file is not valid JSON: {exc}") from None
        if isinstance(parsed, dict):
            parsed = parsed.get("users")
        if not isinstance(parsed, list) or not all(isinstance(r, dict) for r in parsed):
            raise InvalidInputError('JSON must be a list of objects, or {"users": [ ... ]}')
        return [{k: "" if v is None else str(v) for k, v in row.items()} for row in parsed]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_utf8(data.removeprefix(b"\xef\xbb\xbf")) from None
    # strict: a stray or unclosed quote is an error, not a silently merged row.
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=EXTRA_FIELDS, strict=True)
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as exc:
        raise ImportRejectedError([RowError(0, "csv", f"the header is malformed: {exc}")], 1) from None
    header = [h.strip().lower() for h in fieldnames]
    if "email" not in header:
        raise InvalidInputError(
            f"the CSV header must be {','.join(COLUMNS)} (found: {','.join(header) or 'nothing'})"
        )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InvalidInputError(f"unknown CSV column(s) {', '.join(unknown)}; expected {','.join(COLUMNS)}")
    reader.fieldnames = header
    rows: list[dict[str, str]] = []
    try:
        for raw in reader:
            row = {k: v or "" for k, v in raw.items() if k != EXTRA_FIELDS}
            extra = raw.get(EXTRA_FIELDS)
            if extra:
                row[EXTRA_FIELDS] = str(len(extra))
            rows.append(row)
    except csv.Error as exc:
        problem = f"malformed CSV ({exc}); check the quotes on this row"
        raise ImportRejectedError([RowError(len(rows) + 1, "csv", problem)], 1) from None
    return rows


def _team_path_problem(path: str, team_parents: dict[str, str | None]) -> str | None:
    """Check `Parent/Child` against the teams known so far and record the new ones in `team_parents`.

    Team names are unique in the organization, so a path may only name an existing team where it
    already is: `Sales/Platform` when Platform sits under Engineering is refused rather than silently
    putting people in Engineering's Platform. A single name refers to that team wherever it is.
    """
    parts = [part.strip() for part in path.split("/")]
    if any(not part for part in parts):
        return f"'{path}' has an empty part; write Parent/Child"
    for part in parts:
        try:
            store.clean_name(part, "team")
        except InvalidInputError as exc:
            return f"'{part}': {exc.message}"
    for index, part in enumerate(parts):
        parent = parts[index - 1] if index else None
        if part not in team_parents:
            team_parents[part] = parent
        elif index and team_parents[part] != parent:
            where = f"under '{team_parents[part]}'" if team_parents[part] else "at the top level"
            return f"team '{part}' already exists {where}, not under '{parent}'"
    return None


def _validate(
    raw_rows: list[dict[str, str]],
    existing: dict[str, User],
    on_existing: OnExisting,
    team_parents: dict[str, str | None],
) -> tuple[list[_Row], list[RowError]]:
    """Check every row; `team_parents` maps each known team name to its parent's name (or None)."""
    errors: list[RowError] = []
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(raw_rows, start=1):
        if EXTRA_FIELDS in raw:
            errors.append(
                RowError(
                    number,
                    "csv",
                    f"{raw[EXTRA_FIELDS]} more field(s) than the header {','.join(COLUMNS)}; "
                    "quote values that contain commas",
                )
            )
            continue
        unknown = set(raw) - set(COLUMNS)
        if unknown:
            errors.append(
                RowError(number, sorted(unknown)[0], f"unknown field; expected {', '.join(COLUMNS)}")
            )
            continue
        try:
            email = store.normalize_email(raw.get("email", ""))
        except InvalidInputError as exc:
            errors.append(RowError(number, "email", exc.message))
            continue
        if email in seen:
            errors.append(RowError(number, "email", f"{email} also appears in row {seen[email]}"))
            continue
        seen[email] = number
        if email in existing and on_existing == "error":
            errors.append(
                RowError(number, "email", f"{email} already exists (import with --update to change people)")
            )
            continue
        try:
            role = store.parse_role(raw.get("role") or "member")
        except InvalidInputError as exc:
            errors.append(RowError(number, "role", exc.message))
            continue
        try:
            name = store.clean_name((raw.get("name") or "").strip() or email.split("@")[0], "the")
        except InvalidInputError as exc:
            errors.append(RowError(number, "name", exc.message))
            continue
        team = (raw.get("team") or "").strip() or None
        if team is not None:
            problem = _team_path_problem(team, team_parents)
            if problem:
                errors.append(RowError(number, "team", problem))
                continue
        manager = (raw.get("manager_email") or "").strip().lower() or None
        rows.append(_Row(number, email, name, team, manager, role))
    known = set(seen) | set(existing)
    for row in rows:
        if row.manager_email is None:
            continue
        if row.manager_email == row.email:
            errors.append(RowError(row.number, "manager_email", "a person cannot be their own manager"))
        elif row.manager_email not in known:
            errors.append(
                RowError(
                    row.number, "manager_email", f"{row.manager_email} is neither in the file nor a user"
                )
            )
    # Cycles are looked for even when other rows are bad, so one pass reports every problem; a row that
    # names itself as manager was reported above and is left out of the graph.
    errors.extend(_manager_cycles([r for r in rows if r.manager_email != r.email], existing))
    return rows, errors


def _manager_cycles(rows: list[_Row], existing: dict[str, User]) -> list[RowError]:
    """Follow each person's chain through the file-plus-database graph; report rows that close a loop."""
    by_id = {u.id: u.email for u in existing.values()}
    manager_of = {email: (by_id.get(u.manager_id) if u.manager_id else None) for email, u in existing.items()}
    row_of: dict[str, int] = {}
    for row in rows:
        manager_of[row.email] = row.manager_email
        row_of[row.email] = row.number
    errors: list[RowError] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = known to end without a cycle
    for start in row_of:
        path: list[str] = []
        node: str | None = start
        while node is not None and state.get(node) is None:
            state[node] = 1
            path.append(node)
            node = manager_of.get(node)
        if node is not None and state.get(node) == 1:
            loop = path[path.index(node) :]
            first = min(row_of.get(e, 10**9) for e in loop)
            errors.append(RowError(first, "manager_email", "management cycle: " + " -> ".join([*loop, node])))
        for visited in path:
            state[visited] = 2
    return errors


def import_rows(
    session: Session,
    raw_rows: list[dict[str, str]],
    *,
    org_id: int,
    now: datetime,
    on_existing: OnExisting = "error",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every row, then write them all in the caller's transaction, or raise `ImportRejectedError`."""
    if len(raw_rows) > MAX_ROWS:
        raise InvalidInputError(f"at most {MAX_ROWS} rows per import; split the file")
    if not raw_rows:
        raise InvalidInputError("the file has no rows")
    existing = {u.email: u for u in session.scalars(select(User).where(User.org_id == org_id))}
    teams = {t.name: t for t in session.scalars(select(Team).where(Team.org_id == org_id))}
    names_by_id = {t.id: t.name for t in teams.values()}
    team_parents = {t.name: names_by_id.get(t.parent_id) if t.parent_id else None for t in teams.values()}
    rows, errors = _validate(raw_rows, existing, on_existing, team_parents)
    if errors:
        errors.sort(key=lambda e: e.row)
        raise ImportRejectedError(errors[:MAX_ERRORS_REPORTED], len(errors))

    report = ImportReport()
    # Only an import that demotes the last admin is refused; an organization that has no admin yet
    # (an operator importing people before anyone has set up the first admin) may still use --update.
    admins_before = store.count_admins(session, org_id) if on_existing == "update" else 0
    team_ids: dict[str, int] = {}
    for path in sorted({r.team for r in rows if r.team}):
        parent_id: int | None = None
        for part in (p.strip() for p in path.split("/")):
            team = teams.get(part)
            if team is None:
                team = store.create_team(session, org_id=org_id, name=part, parent_id=parent_id, now=now)
                teams[part] = team
                report.teams_created.append(part)
            parent_id = team.id
        assert parent_id is not None
        team_ids[path] = parent_id

    new_rows = [r for r in rows if r.email not in existing]
    if new_rows:
        session.execute(
            insert(User),
            [
                {
                    "org_id": org_id,
                    "email": r.email,
                    "name": r.name,
                    "role": r.role.value,
                    "team_id": team_ids.get(r.team) if r.team else None,
                    "active": True,
                    "created_at": now,
                }
                for r in new_rows
            ],
        )
        report.users_created = len(new_rows)
    if progress:
        progress(len(new_rows))
    ids = {
        email: uid for email, uid in session.execute(select(User.email, User.id).where(User.org_id == org_id))
    }
    changes = []
    for r in rows:
        change: dict[str, object] = {
            "uid": ids[r.email],
            "manager_id": ids[r.manager_email] if r.manager_email else None,
        }
        if r.email in existing:
            user = existing[r.email]
            if user.role != r.role.value:
                report.role_changes.append((ids[r.email], user.role, r.role.value))
            change |= {
                "name": r.name,
                "role": r.role.value,
                "team_id": team_ids.get(r.team) if r.team else None,
            }
            # Counted when something changes: re-importing the same file reports 0 updated, not every row.
            before = (user.name, user.role, user.team_id, user.manager_id)
            report.users_updated += before != (
                change["name"],
                change["role"],
                change["team_id"],
                change["manager_id"],
            )
        changes.append(change)
    manager_only = [c for c in changes if len(c) == 2]
    full = [c for c in changes if len(c) > 2]
    table = cast(Table, User.__table__)
    if manager_only:
        session.execute(
            update(table).where(table.c.id == bindparam("uid")).values(manager_id=bindparam("manager_id")),
            manager_only,
        )
    if full:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("uid"))
            .values(
                manager_id=bindparam("manager_id"),
                name=bindparam("name"),
                role=bindparam("role"),
                team_id=bindparam("team_id"),
            ),
            full,
        )
    if progress:
        progress(len(rows) - len(new_rows))
    if admins_before and store.count_admins(session, org_id) == 0:
        raise ImportRejectedError([RowError(0, "role", "the import would leave no active admin")], 1)
    return report
