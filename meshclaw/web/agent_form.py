"""The agent form ("Define it here" on /agents/new, and /agents/{id}/edit): its fields, and the
definition a submitted form makes.

The form shows the common fields only. Editing starts from the current definition and lays the form over
it, so what the form does not show (tools, triggers, MCP servers, the other limits) is kept, and a field a
request does not send keeps its value: a form saved untouched is the same definition, and a hand-made POST
cannot clear what it leaves out. A field sent empty means the spec's default, as in a file that leaves the
key out. Every value is then checked by `AgentSpec`, like a file's, before anything is saved.

The edit form carries the version it was filled in from (`OPENED_FROM`, hidden). Laying the form over a
version saved since would put back, in every field it shows, what that version changed: so the save is
refused unless the version is still current (the API's If-Match, checked in the save's transaction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meshclaw.errors import InvalidInputError

TEXT_FIELDS = ("purpose", "instructions")
LIMIT_FIELDS = ("limits.max_steps", "limits.max_cost_usd", "daily.max_runs", "daily.max_cost_usd")


@dataclass(frozen=True, kw_only=True)
class Option:
    value: str
    label: str
    """What choosing it does, in a few words (the option's text)."""


@dataclass(frozen=True, kw_only=True)
class Choice:
    """A setting with a fixed set of values, shown as a select."""

    name: str
    label: str
    help: str
    """One line saying what each option does."""
    options: tuple[Option, ...]


CHOICES = (
    Choice(
        name="unattended_approvals",
        label="When a call needs approval and nobody is watching",
        help="Wait: the run waits (for days if need be) until a person decides; "
        "skip: the call is refused, the run carries on and the model reads why.",
        options=(
            Option(value="wait", label="wait for a person's decision"),
            Option(value="skip", label="skip: refuse the call and carry on"),
        ),
    ),
    Choice(
        name="tainted_answers",
        label="Answers of runs that read outsiders' text",
        help="Clean: the answer is written again without the mail, messages or pages it read "
        "(one more model request); as written: the answer the model wrote while reading them.",
        options=(
            Option(value="clean", label="clean: written again apart from that text"),
            Option(value="as_written", label="as written: keep the model's first answer"),
        ),
    ),
)
"""Values and defaults come from `AgentSpec` (a test checks the options against its `Literal`s)."""

MEMORY_SHOWN = "memory.shown"
"""A hidden field sent with the memory checkbox, which browsers leave out when it is not ticked."""

OPENED_FROM = "version"
"""A hidden field of the edit form: the number of the version it was filled in from."""

FIELDS = ("name", *TEXT_FIELDS, "model.name", "memory", *LIMIT_FIELDS, *(c.name for c in CHOICES))


def read(submitted: Mapping[str, Any]) -> dict[str, str]:
    """The form's fields as sent; a field not sent is left out. Browsers send a textarea's line breaks
    as CRLF: they are stored as LF, so saving the instructions untouched does not change them."""
    form = {
        key: str(submitted[key]).replace("\r\n", "\n").strip()
        for key in FIELDS
        if key in submitted and key != "memory"
    }
    # An unticked checkbox is not sent at all: the form says it showed one (`memory.shown`), so that a
    # missing `memory` means off there, and "not sent" in a request without it.
    if "memory" in submitted or MEMORY_SHOWN in submitted:
        form["memory"] = "on" if submitted.get("memory") == "on" else ""
    return form


def opened_from(submitted: Mapping[str, Any]) -> int | None:
    """The version the edit form was filled in from; None when a request does not say (a hand-made POST,
    which then saves over whatever version is current, like a PUT without If-Match)."""
    if OPENED_FROM not in submitted:
        return None
    value = str(submitted[OPENED_FROM]).strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise InvalidInputError(
            f"{OPENED_FROM}: '{value[:20]}' is not a version number; open the Edit page again",
            field=OPENED_FROM,
        )
    return int(value)


def definition(form: Mapping[str, str], *, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The definition the form makes: `base` (the current one, when editing) with the form laid over it."""
    data: dict[str, Any] = dict(base or {})
    if "memory" in form:
        data["memory"] = form["memory"] == "on"
    for key in ("name", *TEXT_FIELDS, *(c.name for c in CHOICES)):
        if key in form:
            data[key] = form[key]
    if "model.name" in form:
        data["model"] = _model(form["model.name"], data.get("model"))
    for key in LIMIT_FIELDS:
        if key not in form:
            continue
        section, field = key.split(".", 1)
        values = dict(data.get(section) or {})
        if form[key]:
            values[field] = form[key]
        else:
            values.pop(field, None)
        data[section] = values
    return {key: value for key, value in data.items() if value is not None}


def _model(name: str, current: object) -> dict[str, Any] | None:
    # The provider a file may name is kept while the model stays the same.
    if not name:
        return None
    if isinstance(current, dict) and current.get("name") == name:
        return dict(current)
    return {"name": name}


def values_of(data: Mapping[str, Any]) -> dict[str, str]:
    """The form filled in with a stored definition, for editing it. Read from the stored data rather than
    an `AgentSpec`, so a version an older release wrote can still be opened; what it lacks shows the
    spec's default."""
    model = data.get("model")
    form = {
        "name": str(data.get("name", "")),
        "purpose": str(data.get("purpose", "")),
        "instructions": str(data.get("instructions", "")),
        "model.name": str(model.get("name", "")) if isinstance(model, dict) else "",
        "memory": "on" if data.get("memory", True) else "",
    }
    for choice in CHOICES:
        if choice.name in data:
            form[choice.name] = str(data[choice.name])
    for key in LIMIT_FIELDS:
        section, field = key.split(".", 1)
        value = (data.get(section) or {}).get(field)
        if value is not None:
            form[key] = str(value)
    return form
