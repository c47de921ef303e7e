"""The `meshclaw` command: global options, then one sub-command group per area."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from meshclaw.cli import (
    accounts,
    agents,
    approvals,
    audit,
    budgets,
    clarity,
    dreams,
    identity,
    imports,
    kill,
    policy,
    prices,
    providers,
    runs,
    serve,
    simulate,
    skills,
    usage,
    usage_refused,
    vault,
)
from meshclaw.cli import doctor as doctor_cmd
from meshclaw.cli.state import CliState

app = typer.Typer(
    help="MeshClaw: agents that act for people, safe by default, with every AI token metered.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(help="TOML settings file [env MESHCLAW_CONFIG]")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory [env MESHCLAW_DATA_DIR; default ./data]")
    ] = None,
) -> None:
    ctx.obj = CliState(config_file=config, overrides={"data_dir": data_dir})


app.command()(serve.up)
app.command()(doctor_cmd.doctor)
app.command("simulate")(simulate.simulate_command)
app.command()(simulate.demo)
app.add_typer(identity.users_app, name="users")
app.add_typer(identity.teams_app, name="teams")
app.add_typer(identity.keys_app, name="keys")
app.add_typer(identity.org_app, name="org")
app.add_typer(imports.import_app, name="import")
usage.usage_app.command("refused")(usage_refused.refused)
app.add_typer(usage.usage_app, name="usage")
app.add_typer(clarity.clarity_app, name="clarity")
app.add_typer(prices.prices_app, name="prices")
app.add_typer(budgets.budgets_app, name="budgets")
app.add_typer(providers.providers_app, name="providers")
app.add_typer(skills.skills_app, name="skills")
agents.agents_app.command("run")(runs.run_agent)
agents.agents_app.command("dream")(dreams.agents_dream)
agents.agents_app.command("dreams")(dreams.agents_dreams)
app.add_typer(agents.agents_app, name="agents")
app.add_typer(runs.runs_app, name="runs")
app.add_typer(approvals.approvals_app, name="approvals")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(vault.vault_app, name="vault")
app.add_typer(policy.policy_app, name="policy")
app.add_typer(kill.kill_app, name="kill")
app.add_typer(accounts.connectors_app, name="connectors")
app.add_typer(accounts.accounts_app, name="accounts")


def run() -> None:
    app()
