"""The tools' arguments follow the policy's naming conventions, so the gate can judge them: `room` is what
the `channels` scope narrows, and the person `matrix_open_dm` invites is a destination (`to`)."""

from __future__ import annotations

from meshclaw.agents.spec import ToolGrant
from meshclaw.connectors.contract import StaticAccounts
from meshclaw.connectors.matrix.manifest import connector
from meshclaw.policy.destinations import destinations
from meshclaw.policy.scopes import out_of_scope

POST = {"account": "chat", "room": "#ops:example.org", "text": "Deployed."}


def test_the_channels_scope_narrows_the_room_argument() -> None:
    grant = ToolGrant(
        tool="matrix_post_message", account="chat", scopes={"channels": ("#ops:example.org", "!Qx*")}
    )
    assert out_of_scope(grant, POST) is None
    assert out_of_scope(grant, {**POST, "room": "!QxAbc"}) is None
    assert (
        out_of_scope(grant, {**POST, "room": "#random:example.org"})
        == "room '#random:example.org' is outside the granted channels (#ops:example.org, !Qx*)"
    )


def test_the_person_a_dm_invites_is_a_destination_on_their_homeserver() -> None:
    """A Matrix id names a person on a homeserver: the gate judges its server like a mail domain, so a
    recipient_domains grant and the egress allowlist both apply to it."""
    (found,) = destinations({"account": "chat", "to": "@ana:example.org"})
    assert (found.kind, found.domain) == ("chat", "example.org")
    grant = ToolGrant(tool="matrix_open_dm", account="chat", scopes={"recipient_domains": ("example.org",)})
    assert out_of_scope(grant, {"account": "chat", "to": "@ana:example.org"}) is None
    assert out_of_scope(grant, {"account": "chat", "to": "@eve:evil.example"}) == (
        "'@eve:evil.example' is outside the granted recipient domains (example.org)"
    )
    (odd,) = destinations({"to": "ana"})
    assert odd.kind == "unknown"  # neither an id nor an address: still external


def test_only_open_dm_has_a_destination_argument_and_every_room_tool_is_scoped() -> None:
    for tool in connector().tools(StaticAccounts()):
        fields = tool.args.model_fields
        assert ("to" in fields) is (tool.name == "matrix_open_dm"), tool.name
        assert not [name for name in fields if name in ("url", "link", "webhook", "domain", "host")]
        assert ("room" in fields) is ("channels" in tool.scopes), tool.name
