"""Which parts of an account's config are secrets, and the `vault:NAME` references that stand for them.

A connector declares a secret by typing the field `SecretStr` (also inside nested models, lists and
dicts). Stored configs hold `vault:NAME` in those places and never a value: the references are checked
when an account is saved and resolved when it is used.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

PREFIX = "vault:"


def is_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX) and len(value) > len(PREFIX)


SecretVisitor = Callable[[str, Any], Any]
"""Called with (dotted path, stored value) at each secret field; returns the value to put there."""


def map_secrets(model: type[BaseModel], config: Any, visit: SecretVisitor) -> Any:
    """A copy of `config` (a dict shaped like `model`) with each secret field's value replaced by what
    `visit` returns. Values of the wrong shape are left alone: validation reports them."""
    return _map_model(model, config, visit, "")


def secret_values(model: type[BaseModel], config: Any) -> list[tuple[str, Any]]:
    """(dotted path, stored value) of every secret field present in `config`."""
    found: list[tuple[str, Any]] = []

    def collect(path: str, value: Any) -> Any:
        found.append((path, value))
        return value

    map_secrets(model, config, collect)
    return found


def _map_model(model: type[BaseModel], config: Any, visit: SecretVisitor, path: str) -> Any:
    if not isinstance(config, dict):
        return config
    mapped = dict(config)
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in config:
            mapped[key] = _map(info.annotation, config[key], visit, f"{path}{key}")
    return mapped


def _map(annotation: Any, value: Any, visit: SecretVisitor, path: str) -> Any:
    if annotation is SecretStr:
        return visit(path, value)
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [option for option in get_args(annotation) if option is not type(None)]
        return _map(options[0], value, visit, path) if value is not None and len(options) == 1 else value
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _map_model(annotation, value, visit, path + ".")
    args = get_args(annotation)
    if origin in (list, tuple) and isinstance(value, list) and args:
        return [_map(args[0], item, visit, f"{path}[{index}]") for index, item in enumerate(value)]
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return {key: _map(args[1], item, visit, f"{path}.{key}") for key, item in value.items()}
    return value
