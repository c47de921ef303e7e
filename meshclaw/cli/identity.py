"""`meshclaw users|teams|keys|org`: administering people, teams and API keys from the server's shell."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from meshclaw.cli.state import console, err_console, fails_cleanly, open_context
from meshclaw.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

users_app = typer.Typer(help="People in the organization.", no_args_is_help=True)
teams_app = typer.Typer(help="The team tree.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (for the API, the gateway and OTLP ingest).", no_args_is_help=True)
org_app = typer.Typer(help="The organization as a whole.", no_args_is_help=True)


def _team_id(session: Session, org_id: int, name: str | None) -> int | None:
    from meshclaw.identity import store

    if name is None:
        return None
    team = store.team_by_name(session, org_id, name)
    if team is None:
        raise NotFoundError(f"no team named '{name}'; create it with `meshclaw teams add '{name}'`")
    return team.id


def _user_id(session: Session, org_id: int, email: str | None) -> int | None:
    from meshclaw.identity.store import user_id_by_email

    return user_id_by_email(session, org_id, email)


@users_app.command("add")
@fails_cleanly
def users_add(
    ctx: typer.Context,
    email: str,
    name: Annotated[str | None, typer.Option(help="Display name; defaults to the part before @")] = None,
    role: Annotated[str, typer.Option(help="member, manager, admin or auditor")] = "member",
    team: Annotated[str | None, typer.Option(help="Team name")] = None,
    manager: Annotated[str | None, typer.Option(help="Manager's email")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a password from stdin")
    ] = False,
) -> None:
    """Add a person."""
    from meshclaw.api.people_audit import record_user_added
    from meshclaw.identity import store
    from meshclaw.identity.passwords import hash_password

    password_hash = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        password_hash = hash_password(password)
    with open_context(ctx) as (context, org_id), context.db.session() as session:
        user = store.create_user(
            session,
            org_id=org_id,
            email=email,
            name=name,
            role=store.parse_role(role),
            team_id=_team_id(session, org_id, team),
            manager_id=_user_id(session, org_id, manager),
            password_hash=password_hash,
            now=context.clock.now(),
        )
        record_user_added(context, session, None, user)
        console().print(f"Added {user.email} ({user.role}), id {user.id}.", highlight=False)


@users_app.command("list")
@fails_cleanly
def users_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List people."""
    from sqlalchemy import select

    from meshclaw.db.models import User
    from meshclaw.identity import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        users = session.scalars(select(User).where(User.org_id == org_id).order_by(User.id)).all()
        teams = {t.id: t.name for t in store.list_teams(session, org_id)}
        emails = {u.id: u.email for u in users}
        rows = [
            {
                "id": u.id,
                "email": u.email,
                "name": u.name,
                "role": u.role,
                "team": teams.get(u.team_id or -1),
                "manager": emails.get(u.manager_id or -1),
                "active": u.active,
            }
            for u in users
        ]
    if as_json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("id", "email", "name", "role", "team", "manager", "active")
    for row in rows:
        table.add_row(
            *(
                str(row[k] if row[k] is not None else "")
                for k in ("id", "email", "name", "role", "team", "manager", "active")
            )
        )
    console().print(table)


@teams_app.command("add")
@fails_cleanly
def teams_add(
    ctx: typer.Context,
    name: str,
    parent: Annotated[str | None, typer.Option(help="Parent team's name")] = None,
) -> None:
    """Add a team, optionally under a parent team."""
    from meshclaw.api.people_audit import record_team, team_fields
    from meshclaw.identity import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        team = store.create_team(
            session,
            org_id=org_id,
            name=name,
            parent_id=_team_id(session, org_id, parent),
            now=context.clock.now(),
        )
        record_team(
            context, session, None, kind="admin.team_created", team_id=team.id, arguments=team_fields(team)
        )
        console().print(f"Added team {team.name}, id {team.id}.", highlight=False)


@teams_app.command("list")
@fails_cleanly
def teams_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List teams with their parents."""
    from meshclaw.identity import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        teams = store.list_teams(session, org_id)
        names = {t.id: t.name for t in teams}
        rows = [{"id": t.id, "name": t.name, "parent": names.get(t.parent_id or -1)} for t in teams]
    if as_json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("id", "name", "parent")
    for row in rows:
        table.add_row(str(row["id"]), str(row["name"]), str(row["parent"] or ""))
    console().print(table)


@keys_app.command("create")
@fails_cleanly
def keys_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option(help="Owner's email")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'laptop' or 'ci'")],
    scope: Annotated[
        list[str] | None, typer.Option(help="api:read, api:write, gateway, ingest; repeat; default all")
    ] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, help="Expire after this many days")] = None,
) -> None:
    """Create an API key. The key is printed once, alone on the last line of stdout."""
    from meshclaw.api.audit_trail import record_admin_action
    from meshclaw.identity import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        owner_id = _user_id(session, org_id, user)
        assert owner_id is not None
        now = context.clock.now()
        key, secret = store.create_key(
            session,
            org_id=org_id,
            owner_user_id=owner_id,
            name=name,
            scopes=scope,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
            now=now,
        )
        record_admin_action(
            context,
            session,
            None,
            kind="admin.key_created",
            target=f"api_key:{key.id}",
            arguments={"owner_user_id": key.owner_user_id, "name": key.name, "scopes": list(key.scopes)},
        )
        summary = (
            f"Created key {key.name!r} (prefix {key.prefix}, scopes {', '.join(key.scopes)}) for {user}."
        )
    err = err_console()
    err.print(summary + " It is shown only now:", highlight=False)
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
@fails_cleanly
def keys_list(
    ctx: typer.Context, user: Annotated[str | None, typer.Option(help="Only this owner's keys")] = None
) -> None:
    """List keys (never their secrets)."""
    from meshclaw.identity import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        keys = store.list_keys(session, org_id, owner_user_id=_user_id(session, org_id, user))
        table = Table("id", "prefix", "name", "owner", "scopes", "expires", "revoked", "last used")
        for key in keys:
            owner = store.get_user(session, org_id, key.owner_user_id).email if key.owner_user_id else "agent"
            table.add_row(
                str(key.id),
                key.prefix,
                key.name,
                owner,
                ",".join(key.scopes),
                str(key.expires_at or ""),
                str(key.revoked_at or ""),
                str(key.last_used_at or ""),
            )
    console().print(table)


@keys_app.command("revoke")
@fails_cleanly
def keys_revoke(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="The key's id or prefix")]
) -> None:
    """Revoke a key at once; requests with it get 401 from then on."""
    from meshclaw.api.audit_trail import record_admin_action
    from meshclaw.identity import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.key_by_id_or_prefix(session, org_id, key)
        store.revoke_key(session, row, now=context.clock.now())
        record_admin_action(
            context,
            session,
            None,
            kind="admin.key_revoked",
            target=f"api_key:{row.id}",
            arguments={"owner_user_id": row.owner_user_id, "name": row.name},
        )
        console().print(f"Revoked key {row.name!r} (prefix {row.prefix}).", highlight=False)


@org_app.command("import")
@fails_cleanly
def org_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with header email,name,team,manager_email,role, or JSON")],
    update: Annotated[
        bool, typer.Option("--update", help="Update people who already exist instead of failing")
    ] = False,
) -> None:
    """Import people and teams. Every row is checked first; any problem rejects the whole file."""
    from meshclaw.api.people_audit import record_org_import
    from meshclaw.identity.org_import import import_rows, parse_file

    if not file.is_file():
        raise InvalidInputError(f"{file} does not exist or is not a file")
    rows = parse_file(file.read_bytes(), filename=file.name)
    with (
        open_context(ctx) as (context, org_id),
        Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console(),
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("import", total=len(rows))
        with context.db.session() as session:
            report = import_rows(
                session,
                rows,
                org_id=org_id,
                now=context.clock.now(),
                on_existing="update" if update else "error",
                progress=lambda n: progress.advance(task, n),
            )
            record_org_import(context, session, None, report)
    console().print(
        f"Imported {report.users_created} new and {report.users_updated} updated people; "
        f"created {len(report.teams_created)} teams.",
        highlight=False,
    )
