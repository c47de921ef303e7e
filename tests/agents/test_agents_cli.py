"""`meshclaw agents …`: apply through the installed entry point, then list, re-apply, versions, `show`,
templates and bad files in-process (tests/cli_runner.py), on the database the API reads: the JSON equals
the API's."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.cli_runner import entry_point, run_cli
from tests.conftest import People

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agents" / "research-assistant.toml"


def invoke(data_dir: Path, database_url: str, *args: str) -> tuple[int, str, str]:
    done = run_cli(data_dir, *args, database_url=database_url)
    return done.returncode, done.stdout, done.stderr


def test_apply_an_example_and_list_the_api_json(
    client: TestClient, people: People, tmp_path: Path, database_url: str
) -> None:
    admin = people.add(Role.ADMIN)
    alice = people.add()
    provider = {
        "name": "openai",
        "kind": "openai",
        "base_url": "https://api.openai.com/v1",
        "models": ["gpt-4o-mini"],
    }
    assert client.post("/api/v1/providers", headers=admin.auth, json=provider).status_code == 201

    applied = entry_point(
        tmp_path, "agents", "apply", str(EXAMPLE), "--owner", alice.email, database_url=database_url
    )
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.startswith(f"Created agent research-assistant (id 1) for {alice.email}, version 1.")
    code, out, err = invoke(tmp_path, database_url, "agents", "list", "--json")
    assert code == 0, err
    api = client.get("/api/v1/agents", headers=alice.auth).json()
    assert orjson.loads(out) == api
    assert api[0]["model"] == "gpt-4o-mini" and api[0]["current_version"] == 1

    # Again, unchanged: no new version. Then a changed copy: version 2, and `show` lists both.
    code, out, err = invoke(tmp_path, database_url, "agents", "apply", str(EXAMPLE), "--owner", alice.email)
    assert (code, out.strip()) == (0, "Agent research-assistant is unchanged (version 1); no new version."), (
        err
    )
    changed = tmp_path / "research-assistant.toml"
    changed.write_text(EXAMPLE.read_text().replace("max_steps = 10", "max_steps = 12"))
    code, out, err = invoke(tmp_path, database_url, "agents", "apply", str(changed), "--owner", alice.email)
    assert code == 0, err
    assert out.strip() == f"Saved version 2 of agent research-assistant (id 1) for {alice.email}."
    code, out, err = invoke(tmp_path, database_url, "agents", "show", "research-assistant", "--json")
    assert code == 0, err
    shown = orjson.loads(out)
    assert [v["number"] for v in shown["versions"]] == [2, 1]
    assert shown["spec"]["limits"]["max_steps"] == 12
    assert shown == client.get("/api/v1/agents/1", headers=alice.auth).json()
    code, out, _ = invoke(tmp_path, database_url, "agents", "list")
    assert "research-assistant" in out and alice.email in out


def test_bad_files_say_which_field_and_exit_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntriggers:\n  - cron: '0 0 30 2 *'\n    timezone: Mars/Base\n")
    code, _, err = invoke(tmp_path, url, "agents", "apply", str(bad), "--owner", "nobody@example.org")
    assert code == 2
    assert "bad.yaml: triggers[0].cron: '0 0 30 2 *' never fires" in err
    assert "triggers[0].timezone: unknown time zone 'Mars/Base'" in err  # every problem, one per line
    good = tmp_path / "ok.toml"
    good.write_text('name = "ok"\n')
    code, _, err = invoke(tmp_path, url, "agents", "apply", str(good))
    assert code == 2 and "--owner EMAIL" in err  # no admin yet: whose agent is it?
    code, _, err = invoke(tmp_path, url, "agents", "apply", str(good), "--owner", "nobody@example.org")
    assert code == 2 and "no user with email or id 'nobody@example.org'" in err
    code, _, err = invoke(tmp_path, url, "agents", "show", "ok")
    assert code == 2 and "no agent named 'ok'" in err
    code, out, _ = invoke(tmp_path, url, "agents", "templates")
    assert code == 0 and "assistant" in out and "model*" in out


def test_apply_with_if_version_saves_only_over_that_version(
    client: TestClient, people: People, tmp_path: Path, database_url: str
) -> None:
    alice = people.add()
    spec = tmp_path / "triage.toml"
    spec.write_text('name = "triage"\npurpose = "sort mail"\n')
    apply = ("agents", "apply", str(spec), "--owner", alice.email)
    code, out, err = invoke(tmp_path, database_url, *apply, "--if-version", "1")
    assert code == 2 and "there is no agent 'triage' of this owner, so no version 1 of it" in err, out
    assert invoke(tmp_path, database_url, *apply)[0] == 0
    url = f"/api/v1/agents/{client.get('/api/v1/agents', headers=alice.auth).json()[0]['id']}"
    web = {"name": "triage", "purpose": "sort and label mail"}  # someone saves version 2 meanwhile
    assert client.put(url, headers=alice.auth, json={"spec": web}).json()["version"]["number"] == 2

    spec.write_text('name = "triage"\npurpose = "sort mail"\ninstructions = "be quick"\n')
    code, out, err = invoke(tmp_path, database_url, *apply, "--if-version", "1")
    assert code == 2 and "agent 'triage' is at version 2 now, saved" in err, out
    assert f"by {alice.email}, and this definition was made from version 1: nothing was saved" in err
    assert client.get(url, headers=alice.auth).json()["purpose"] == "sort and label mail"
    code, out, err = invoke(tmp_path, database_url, *apply, "--if-version", "2")
    assert (code, out.strip()) == (0, f"Saved version 3 of agent triage (id 1) for {alice.email}."), err
