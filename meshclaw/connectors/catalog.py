"""The connectors this installation has: every subpackage of `meshclaw.connectors` with a `manifest`
module. Found by scanning the package, so adding a connector is adding its folder and nothing else."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import meshclaw.connectors as package
from meshclaw.connectors.contract import Connector


def connector_names() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if info.ispkg and importlib.util.find_spec(f"{package.__name__}.{info.name}.manifest") is not None
    )


def all_connectors() -> list[Connector]:
    """Every connector, imported on first use (their client libraries are not free to import)."""
    return [load(name) for name in connector_names()]


def load(name: str) -> Connector:
    if name not in connector_names():
        known = ", ".join(connector_names()) or "none"
        raise KeyError(f"no connector named '{name}' (known: {known})")
    module = importlib.import_module(f"{package.__name__}.{name}.manifest")
    found: Connector = module.connector()
    if found.name != name:
        raise ValueError(f"the connector in folder '{name}' calls itself '{found.name}'")
    return found
