"""An approval nobody decides expires: the run's durable wait ends at the expiry, the call counts as
denied ("approval expired"), the model reads why and the run carries on; the tool never runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import AuditEvent
from tests.conftest import People
from tests.runs.approval_agent import deploys
from tests.runs.records import wait_final
from tests.runs.test_approvals import output_of, pending_of, start

EXPIRY_S = 3.0


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path, database_url=database_url, approval_expiry_hours=EXPIRY_S / 3600,
                         runs_executor="tests.runs.approval_agent:build")  # fmt: skip


def test_an_undecided_approval_expires_and_the_run_carries_on_without_the_call(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    run_id = start(app_client, context, org_id, owner, "deploy")
    approval = pending_of(app_client, owner, run_id)
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == []
    assert "approval expired" in output_of(app_client, owner, run_id)
    url = f"/api/v1/approvals/{approval['id']}"
    assert app_client.get(url, headers=owner.auth).json()["status"] == "expired"
    assert app_client.post(url, json={"decision": "approve"}, headers=owner.auth).status_code == 410
    with context.db.session() as session:
        [expired] = session.scalars(select(AuditEvent).where(AuditEvent.kind == "approval.denied")).all()
        assert (expired.approval_id, expired.outcome) == (approval["id"], "expired")
