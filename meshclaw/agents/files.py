"""Agent definitions as files: TOML (`.toml`) or YAML (`.yaml`, `.yml`), read into an `AgentSpec`.

Every error becomes one `InvalidInputError` whose message names the file and, for each problem, the field
as a dotted path (`triggers[0].timezone`) and why; a parse error names the line. The full list is on the
error's `errors` (the CLI prints each), so one pass over a broken file shows everything wrong with it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from meshclaw.agents.spec import AgentSpec
from meshclaw.errors import InvalidInputError

FileFormat = Literal["toml", "yaml"]
_SUFFIXES: dict[str, FileFormat] = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}
MAX_FILE_BYTES = 1_000_000
"""Far above any real definition (instructions are capped at 100,000 characters)."""


class SpecFileError(InvalidInputError):
    """An invalid definition; `errors` holds one line per problem (`field: why`)."""

    def __init__(
        self,
        message: str,
        *,
        errors: list[str],
        field: str | None = None,
        problems: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.errors = errors
        # (field path, why) per problem: what a form shows next to each field.
        self.problems = problems or []


def format_of(path: Path) -> FileFormat:
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InvalidInputError(
            f"{path.name}: an agent file ends in .toml, .yaml or .yml, so its format is known", field="file"
        ) from None


def load_spec_file(path: Path) -> AgentSpec:
    fmt = format_of(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the file ({exc.strerror})", field="file") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidInputError(f"{path.name}: larger than {MAX_FILE_BYTES:,} bytes", field="file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path.name}: not UTF-8 text", field="file") from None
    return parse_spec_text(text, fmt, source=path.name)


def parse_spec_text(text: str, fmt: FileFormat, *, source: str) -> AgentSpec:
    """Parse and validate a definition; `source` names it in messages (a file name, or 'pasted TOML')."""
    return spec_from_data(_parse(text, fmt, source), source=source)


def _parse(text: str, fmt: FileFormat, source: str) -> Any:
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            # The message already says "(at line N, column M)".
            raise SpecFileError(f"{source}: not valid TOML: {exc}", errors=[]) from None
        except RecursionError:  # tomllib parses nested arrays and tables by recursion
            raise SpecFileError(f"{source}: not valid TOML: nested too deeply", errors=[]) from None
    # Imported here: YAML is the rarer format, and the CLI's start-up time matters.
    import yaml

    try:
        # safe_load: a definition is data; YAML tags that build Python objects are refused.
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise SpecFileError(f"{source}: not valid YAML{where}: {problem}", errors=[]) from None
    except RecursionError:  # PyYAML composes nested collections by recursion
        raise SpecFileError(f"{source}: not valid YAML: nested too deeply", errors=[]) from None


def spec_from_data(data: Any, *, source: str) -> AgentSpec:
    """Validate parsed data (a file's, or the API's JSON) into a spec, with errors people can act on."""
    if not isinstance(data, dict):
        raise SpecFileError(
            f"{source}: the definition must be a table of fields (name, purpose, …), not {type(data).__name__}",
            errors=[],
        )
    try:
        return AgentSpec.model_validate(data)
    except ValidationError as exc:
        raise spec_error(exc, source=source) from None


def spec_error(exc: ValidationError, *, source: str) -> SpecFileError:
    """A pydantic error as people read it: `source: field.path: why`, every problem in `errors`."""
    problems = [(field_path(error["loc"]), _reason(error)) for error in exc.errors()]
    errors = [f"{path}: {why}" for path, why in problems] or ["invalid"]
    first = problems[0][0] if problems else None
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return SpecFileError(f"{source}: {errors[0]}{more}", errors=errors, field=first, problems=problems)


def field_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic's location as people write it: `triggers[0].timezone`. A tagged union adds the tag
    (`cron`) as a path element, which is dropped: the user wrote `kind = "cron"`, not a `cron` table."""
    path = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif index > 0 and isinstance(loc[index - 1], int) and part in _TRIGGER_KINDS:
            continue
        else:
            path += f".{part}" if path else part
    return path or WHOLE_DEFINITION


WHOLE_DEFINITION = "(the whole definition)"
"""The path of a problem with no one field (a check across fields)."""

_TRIGGER_KINDS = frozenset({"cron", "interval", "once", "event"})


def _reason(error: Any) -> str:
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid"))
    if kind == "extra_forbidden":
        return "unknown field: check its spelling (the README's Agents section lists the fields)"
    if kind == "union_tag_invalid":
        return "unknown trigger kind: use cron, interval, once or event"
    if kind == "union_tag_not_found":
        return "a trigger needs 'kind': cron, interval, once or event"
    # Our own validators' messages are sentences already; pydantic prefixes them.
    return message.removeprefix("Value error, ")
