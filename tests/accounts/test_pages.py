"""/accounts in the web UI: add an account with a JSON config, see it, check it, switch it off, remove it;
a config that is not JSON or holds a plain secret is refused with the field named."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from tests.conftest import People
from tests.web.conftest import WebPeople, signed_in


def test_add_check_disable_and_remove_an_account_on_the_page(
    client: TestClient, context: AppContext, people: People
) -> None:
    ana = WebPeople(context, people).add()
    token = signed_in(client, ana)
    stored = client.post("/api/v1/vault/secrets", headers={"X-CSRF-Token": token},
                         json={"name": "hook-secret", "value": "very-secret-value"})  # fmt: skip
    assert stored.status_code == 201, stored.text
    page = client.get("/accounts").text
    assert 'id="no-accounts"' in page and 'id="connector-webhook"' in page and "webhook_send_request" in page

    def post(path: str, **data: str) -> tuple[int, str]:
        answer = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        return answer.status_code, answer.headers.get("location", answer.text)

    status, text = post("/accounts", name="ci-hooks", connector="webhook", config="{not json")
    assert status == 422 and "Config: not valid JSON" in text
    status, text = post("/accounts", name="ci-hooks", connector="webhook", config="[" * 50_000)
    assert status == 422 and "Config: nested too deeply" in text
    status, text = post(
        "/accounts", name="ci-hooks", connector="webhook", config='{"signing_secret": "plain"}'
    )
    assert status == 422 and "store it in the vault" in text
    assert post("/accounts", name="ci-hooks", connector="webhook",
                config='{"signing_secret": "vault:hook-secret"}') == (303, "/accounts?notice=added")  # fmt: skip
    page = client.get("/accounts?notice=added").text
    assert "Account added" in page and '<th scope="row">ci-hooks</th>' in page and "vault:hook-secret" in page
    status, location = post("/accounts/ci-hooks/check")
    assert status == 303
    checked = client.get(location).text
    assert 'id="check-result"' in checked and "works" in checked and "very-secret" not in checked
    assert post("/accounts/ci-hooks/enabled", enabled="false") == (303, "/accounts?notice=disabled")
    assert ">disabled<" in client.get("/accounts").text
    assert post("/accounts/ci-hooks/remove") == (303, "/accounts?notice=removed")
    assert 'id="no-accounts"' in client.get("/accounts").text
