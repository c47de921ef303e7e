"""The values that may reach a command line, a URL or a PromQL query, and how they are put there.

A version is at most 128 characters of letters, digits and `._+-`, starting with a letter or a digit: it
cannot begin an option (`-x`, `--flag`), hold a space, a quote, a slash, a brace or a newline. Services
and environments are lower-case names, and tools accept only the ones the account lists.
"""

from __future__ import annotations

import re

from meshclaw.tools.registry import ToolError

VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,127}$")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
PLACEHOLDERS = frozenset({"{service}", "{environment}", "{version}"})


def check_version(version: str) -> str:
    if not VERSION.fullmatch(version):
        raise ToolError(
            f"version {version[:80]!r} is not allowed: use letters, digits and . _ + - (starting with a "
            "letter or digit, at most 128 characters), e.g. 1.4.2 or 2024-06-01.3"
        )
    return version


def fill(template: str, *, service: str, environment: str, version: str | None) -> str:
    """Replace exactly `{service}`, `{environment}` and `{version}` (not str.format: PromQL and argv
    elements have their own braces). The values were checked before they get here."""
    text = template.replace("{service}", service).replace("{environment}", environment)
    if "{version}" in text:
        if version is None:
            raise ToolError("this action needs a version: pass `version`")
        text = text.replace("{version}", version)
    return text
