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


def test_the_person_a_dm_invites_is_a_destination_the_gate_treats_as_external() -> None:
    """A Matrix id is neither an address nor a URL: the gate keeps it as an unknown destination, which it
    treats as external (so a recipient_domains grant cannot allow it)."""
    (found,) = destinations({"account": "chat", "to": "@ana:example.org"})
    assert (found.kind, found.domain) == ("unknown", None)


def test_only_open_dm_has_a_destination_argument_and_every_room_tool_is_scoped() -> None:
    for tool in connector().tools(StaticAccounts()):
        fields = tool.args.model_fields
        assert ("to" in fields) is (tool.name == "matrix_open_dm"), tool.name
        assert not [name for name in fields if name in ("url", "link", "webhook", "domain", "host")]
        assert ("room" in fields) is ("channels" in tool.scopes), tool.name
