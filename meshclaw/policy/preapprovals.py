"""Narrow patterns an admin approved in advance for one agent ("deploy service web to staging").

A pre-approval names one tool (or a `prefix_*` family) and fixes argument values: every constrained
argument must be present in the call and match (strings by shell-style wildcard, anything else by
equality); arguments it does not name are free. A pre-approval with no constraints approves every call of
the tool: allowed, but the admin page shows it as broad.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from meshclaw.tools.registry import grant_matches


@dataclass(frozen=True, kw_only=True)
class PreApproval:
    id: int
    tool: str
    constraints: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def matches(self, tool: str, args: Mapping[str, Any]) -> bool:
        if not grant_matches(self.tool, tool):
            return False
        for name, wanted in self.constraints.items():
            if name not in args:
                return False
            value = args[name]
            if isinstance(wanted, str):
                if not isinstance(value, str) or not fnmatchcase(value, wanted):
                    return False
            elif value != wanted:
                return False
        return True

    def describe(self) -> str:
        fixed = ", ".join(f"{name}={value}" for name, value in self.constraints.items())
        return f"{self.tool} ({fixed})" if fixed else f"{self.tool} (any arguments)"
