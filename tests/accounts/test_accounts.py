"""Connector accounts through the API and the CLI: configs are checked against the connector's schema,
secrets are only ever vault references, each person sees their own accounts and the organization's, and
an agent's grants must name an account its owner may use."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from tests.cli_runner import run_cli
from tests.conftest import People, Person

ACCOUNTS = "/api/v1/accounts"


def store_secret(client: TestClient, person: Person, name: str, *, org: bool = False) -> None:
    answer = client.post(
        "/api/v1/vault/secrets",
        headers=person.auth,
        json={"name": name, "value": "s3cret-value-1", "org": org},
    )
    assert answer.status_code == 201, answer.text


def test_configs_are_checked_and_secrets_must_be_vault_references(client: TestClient, people: People) -> None:
    ana = people.add()
    plain = client.post(ACCOUNTS, headers=ana.auth, json={"name": "ci", "connector": "webhook",
                                                          "config": {"signing_secret": "hunter2"}})  # fmt: skip
    assert plain.status_code == 422
    assert plain.json()["error"]["field"] == "config.signing_secret"
    assert "store it in the vault" in plain.json()["error"]["message"] and "hunter2" not in plain.text
    missing = client.post(ACCOUNTS, headers=ana.auth, json={"name": "ci", "connector": "webhook",
                                                            "config": {"signing_secret": "vault:nope"}})  # fmt: skip
    assert (
        missing.status_code == 422 and "names the vault secret 'nope'" in missing.json()["error"]["message"]
    )
    store_secret(client, ana, "ci-secret")
    typo = client.post(ACCOUNTS, headers=ana.auth, json={"name": "ci", "connector": "webhook",
                       "config": {"signing_secret": "vault:ci-secret", "schme": "github"}})  # fmt: skip
    assert typo.status_code == 422 and typo.json()["error"]["field"] == "config.schme"
    wrong = client.post(ACCOUNTS, headers=ana.auth, json={"name": "ci", "connector": "webhook",
                        "config": {"signing_secret": "vault:ci-secret", "scheme": "md5"}})  # fmt: skip
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "config.scheme"
    unknown = client.post(ACCOUNTS, headers=ana.auth, json={"name": "ci", "connector": "fax", "config": {}})
    assert unknown.status_code == 422 and "no connector named 'fax'" in unknown.json()["error"]["message"]
    bad_name = client.post(ACCOUNTS, headers=ana.auth, json={"name": "CI Hooks", "connector": "webhook",
                           "config": {"signing_secret": "vault:ci-secret"}})  # fmt: skip
    assert bad_name.status_code == 422 and bad_name.json()["error"]["field"] == "name"
    good = client.post(ACCOUNTS, headers=ana.auth, json={"name": "ci", "connector": "webhook",
                       "config": {"signing_secret": "vault:ci-secret"}})  # fmt: skip
    assert good.status_code == 201, good.text
    assert (
        good.json()["config"] == {"signing_secret": "vault:ci-secret"}
        and good.json()["owner_user_id"] == ana.id
    )
    again = client.post(ACCOUNTS, headers=ana.auth, json={"name": "ci", "connector": "webhook",
                        "config": {"signing_secret": "vault:ci-secret"}})  # fmt: skip
    assert again.status_code == 409
    checked = client.post(f"{ACCOUNTS}/ci/check", headers=ana.auth)
    assert checked.json()["ok"] is True and "s3cret" not in checked.text


def test_people_see_their_own_accounts_and_the_organizations(client: TestClient, people: People) -> None:
    admin, ana, bob = people.add(Role.ADMIN), people.add(), people.add()
    store_secret(client, ana, "ana-secret")
    store_secret(client, admin, "org-secret", org=True)
    assert client.post(ACCOUNTS, headers=ana.auth, json={"name": "ana-hooks", "connector": "webhook",
                       "config": {"signing_secret": "vault:ana-secret"}}).status_code == 201  # fmt: skip
    member_org = client.post(ACCOUNTS, headers=bob.auth, json={"name": "shared", "connector": "webhook",
                             "organization": True, "config": {"signing_secret": "vault:org-secret"}})  # fmt: skip
    assert member_org.status_code == 403
    assert client.post(ACCOUNTS, headers=admin.auth, json={"name": "shared", "connector": "webhook",
                       "organization": True, "config": {"signing_secret": "vault:org-secret"}}).status_code == 201  # fmt: skip
    assert [a["name"] for a in client.get(ACCOUNTS, headers=bob.auth).json()] == ["shared"]
    assert [a["name"] for a in client.get(ACCOUNTS, headers=ana.auth).json()] == ["ana-hooks", "shared"]
    assert [a["name"] for a in client.get(ACCOUNTS, headers=admin.auth).json()] == ["ana-hooks", "shared"]
    assert client.get(f"{ACCOUNTS}/ana-hooks", headers=bob.auth).status_code == 404
    assert client.delete(f"{ACCOUNTS}/ana-hooks", headers=bob.auth).status_code == 404
    assert client.patch(f"{ACCOUNTS}/shared", headers=bob.auth, json={"enabled": False}).status_code == 403
    off = client.patch(f"{ACCOUNTS}/ana-hooks", headers=ana.auth, json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert client.delete(f"{ACCOUNTS}/ana-hooks", headers=ana.auth).status_code == 204
    assert [a["name"] for a in client.get(ACCOUNTS, headers=ana.auth).json()] == ["shared"]
    listed = {c["name"]: c for c in client.get("/api/v1/connectors", headers=bob.auth).json()}
    webhook = listed["webhook"]
    assert webhook["inbound"] is True and [t["name"] for t in webhook["tools"]] == ["webhook_send_request"]
    assert webhook["tools"][0]["effect"] == "communicate_external"


def test_grants_of_connector_tools_name_an_account_the_owner_may_use(
    client: TestClient, people: People
) -> None:
    ana, bob = people.add(), people.add()
    store_secret(client, ana, "ana-secret")
    assert client.post(ACCOUNTS, headers=ana.auth, json={"name": "ana-hooks", "connector": "webhook",
                       "config": {"signing_secret": "vault:ana-secret"}}).status_code == 201  # fmt: skip

    def create(person: Person, grant: dict[str, object]) -> tuple[int, dict[str, str]]:
        answer = client.post(
            "/api/v1/agents", headers=person.auth, json={"spec": {"name": "notifier", "tools": [grant]}}
        )
        return answer.status_code, answer.json().get("error", {})

    status, error = create(ana, {"tool": "webhook_send_request"})
    assert status == 422 and error["field"] == "tools[0].account"
    assert "name the webhook account" in error["message"]
    status, error = create(bob, {"tool": "webhook_send_request", "account": "ana-hooks"})
    assert status == 422 and "has no account named 'ana-hooks'" in error["message"]
    status, _ = create(ana, {"tool": "webhook_*", "account": "ana-hooks"})
    assert status == 201


def test_the_cli_adds_lists_checks_and_removes_accounts(
    context: AppContext, database_url: str, tmp_path: Path, people: People
) -> None:
    data_dir = context.settings.data_dir
    owner = people.add()

    def cli(*args: str, stdin: str | None = None) -> str:
        done = run_cli(data_dir, *args, database_url=database_url, stdin=stdin)
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    assert "webhook" in cli("connectors", "list")
    assert "webhook_send_request" in cli("connectors", "show", "webhook")
    cli("vault", "set", "hook-secret", "--owner", owner.email, stdin="abc-123-secret")
    config = tmp_path / "hooks.toml"
    config.write_text('signing_secret = "vault:hook-secret"\nscheme = "github"\n')
    assert "Added webhook account ci-hooks" in cli("accounts", "add", "ci-hooks", "--connector", "webhook",
                                                    "--config", str(config), "--owner", owner.email)  # fmt: skip
    assert "ci-hooks" in cli("accounts", "list") and owner.email in cli("accounts", "list")
    assert '"scheme": "github"' in cli("accounts", "show", "ci-hooks")
    checked = cli("accounts", "check", "ci-hooks")
    assert "ci-hooks: ok" in checked and "abc-123" not in checked
    assert "disabled" in cli("accounts", "disable", "ci-hooks")
    bad = tmp_path / "bad.toml"
    bad.write_text('signing_secret = "plain"\n')
    refused = run_cli(
        data_dir, "accounts", "change", "ci-hooks", "--config", str(bad), database_url=database_url
    )
    assert refused.returncode == 2 and "'signing_secret' is a secret" in refused.stderr
    assert "Removed account ci-hooks" in cli("accounts", "remove", "ci-hooks")
    gone = run_cli(data_dir, "accounts", "show", "ci-hooks", database_url=database_url)
    assert gone.returncode == 2 and "no account named 'ci-hooks'" in gone.stderr
