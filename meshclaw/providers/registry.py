"""The configured model upstreams and the model -> provider routing table.

Rows are validated here, once, so the CLI, the API and the admin page give the same errors. Routing is an
in-memory dict built from the rows (`Routes.load`), rebuilt after a change; the request path never reads
the database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshclaw.db.models import Provider
from meshclaw.errors import ConflictError, InvalidInputError, NotFoundError


class ProviderKind(StrEnum):
    OPENAI = "openai"
    """api.openai.com or anything that speaks its API exactly (chat completions, responses, embeddings)."""
    ANTHROPIC = "anthropic"
    """The Anthropic Messages API (`x-api-key`, `anthropic-version`)."""
    OPENAI_COMPATIBLE = "openai-compatible"
    """Ollama, vLLM, llama.cpp server and others: OpenAI's chat completions and embeddings shapes."""


_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_MODEL = re.compile(r"^[^\s,]{1,200}$")


@dataclass(frozen=True, kw_only=True)
class ProviderConfig:
    id: int
    name: str
    kind: ProviderKind
    base_url: str
    """Without a trailing slash, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`."""
    api_key_env: str | None
    models: tuple[str, ...]
    enabled: bool

    def api_key(self) -> str | None:
        """The upstream key, read from the server's environment at call time (never stored, never logged)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


def _to_config(row: Provider) -> ProviderConfig:
    return ProviderConfig(
        id=row.id,
        name=row.name,
        kind=ProviderKind(row.kind),
        base_url=row.base_url,
        api_key_env=row.api_key_env,
        models=tuple(row.models),
        enabled=row.enabled,
    )


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInputError(
            f"provider name '{name}' is not allowed: use 1-100 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit",
            field="name",
        )
    return name


def validate_kind(kind: str) -> ProviderKind:
    try:
        return ProviderKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in ProviderKind)
        raise InvalidInputError(
            f"unknown provider kind '{kind}'; use one of: {allowed}", field="kind"
        ) from None


def validate_base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # An '@' may mean a key was pasted into the URL: then the message does not repeat it.
        shown = "" if "@" in url else f" '{url[:200]}'"
        raise InvalidInputError(
            f"base URL{shown} must be an absolute http:// or https:// URL, e.g. https://api.openai.com/v1",
            field="base_url",
        )
    if parts.username or parts.password:
        # A key in the URL would be stored and shown in the admin page; keys belong in --api-key-env.
        raise InvalidInputError(
            "base URL must not contain credentials; put the key in an environment variable and name it "
            "with --api-key-env",
            field="base_url",
        )
    if parts.query or parts.fragment:
        raise InvalidInputError("base URL must not have a query or fragment", field="base_url")
    return url.strip().rstrip("/")


def validate_api_key_env(var: str | None) -> str | None:
    if var is None or var == "":
        return None
    # The value is never repeated in these messages: what was typed here may be the key itself.
    if not _ENV_VAR.match(var):
        raise InvalidInputError(
            "the API key variable is not an environment variable name (letters, digits and '_', not "
            "starting with a digit); give the variable's name, such as OPENAI_API_KEY, never the key itself",
            field="api_key_env",
        )
    if _looks_like_a_key(var):
        raise InvalidInputError(
            "the API key variable looks like a key, not a variable name; put the key in an environment "
            "variable of the server and give that variable's name, such as OPENAI_API_KEY, never the key "
            "itself",
            field="api_key_env",
        )
    return var


_KEY_PREFIXES = ("sk_", "gsk_")
"""Prefixes of vendor keys that contain only characters an environment variable name may have."""


def _looks_like_a_key(var: str) -> bool:
    """Some keys (Groq's `gsk_…`, long random tokens) are valid variable names; refuse those shapes so a
    pasted key is not stored and shown as if it were a name."""
    if var.startswith(_KEY_PREFIXES) and len(var) >= 20:
        return True
    mixed = any(c.islower() for c in var) and any(c.isupper() for c in var) and any(c.isdigit() for c in var)
    return mixed and len(var) >= 32


def validate_models(models: Sequence[str]) -> list[str]:
    cleaned = [m.strip() for m in models if m.strip()]
    if not cleaned:
        raise InvalidInputError(
            "name at least one model the provider serves, e.g. gpt-4o-mini", field="models"
        )
    for model in cleaned:
        if not _MODEL.match(model):
            raise InvalidInputError(
                f"model name '{model}' must be 1-200 characters without spaces or commas", field="models"
            )
    if len(set(cleaned)) != len(cleaned):
        raise InvalidInputError("a model is listed twice", field="models")
    return cleaned


def list_providers(session: Session) -> list[ProviderConfig]:
    rows = session.scalars(select(Provider).order_by(Provider.name)).all()
    return [_to_config(row) for row in rows]


def get_provider(session: Session, name: str) -> ProviderConfig:
    row = session.scalar(select(Provider).where(Provider.name == name))
    if row is None:
        raise NotFoundError(f"no provider named '{name}'; 'meshclaw providers list' shows them")
    return _to_config(row)


def add_provider(
    session: Session,
    *,
    name: str,
    kind: str,
    base_url: str,
    api_key_env: str | None,
    models: Sequence[str],
    now: datetime,
) -> ProviderConfig:
    """Validate and add a provider. A model may be served by only one enabled provider, so routing is
    unambiguous; the caller commits."""
    row = Provider(
        name=validate_name(name),
        kind=validate_kind(kind).value,
        base_url=validate_base_url(base_url),
        api_key_env=validate_api_key_env(api_key_env),
        models=validate_models(models),
        enabled=True,
        created_at=now,
    )
    if session.scalar(select(Provider.id).where(Provider.name == row.name)) is not None:
        raise ConflictError(f"a provider named '{row.name}' exists; remove it first or pick another name")
    _check_models_free(session, row.models, except_id=None)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError(
            f"a provider named '{row.name}' exists; remove it first or pick another name"
        ) from None
    return _to_config(row)


def remove_provider(session: Session, name: str) -> None:
    row = session.scalar(select(Provider).where(Provider.name == name))
    if row is None:
        raise NotFoundError(f"no provider named '{name}'; 'meshclaw providers list' shows them")
    session.delete(row)
    session.flush()


def set_enabled(session: Session, name: str, *, enabled: bool) -> ProviderConfig:
    row = session.scalar(select(Provider).where(Provider.name == name))
    if row is None:
        raise NotFoundError(f"no provider named '{name}'; 'meshclaw providers list' shows them")
    if enabled:
        _check_models_free(session, row.models, except_id=row.id)
    row.enabled = enabled
    session.flush()
    return _to_config(row)


def update_provider(
    session: Session,
    name: str,
    *,
    enabled: bool | None = None,
    models: Sequence[str] | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
) -> ProviderConfig:
    """Change the given fields (None leaves a field alone; `api_key_env=""` removes the variable), with
    the validation `add_provider` applies. The caller commits."""
    row = session.scalar(select(Provider).where(Provider.name == name))
    if row is None:
        raise NotFoundError(f"no provider named '{name}'; 'meshclaw providers list' shows them")
    new_models = validate_models(models) if models is not None else list(row.models)
    new_base_url = validate_base_url(base_url) if base_url is not None else row.base_url
    new_env = validate_api_key_env(api_key_env) if api_key_env is not None else row.api_key_env
    new_enabled = row.enabled if enabled is None else enabled
    if new_enabled:
        _check_models_free(session, new_models, except_id=row.id)
    row.models = new_models
    row.base_url = new_base_url
    row.api_key_env = new_env
    row.enabled = new_enabled
    session.flush()
    return _to_config(row)


def _check_models_free(session: Session, models: Sequence[str], *, except_id: int | None) -> None:
    wanted = set(models)
    for other in session.scalars(select(Provider).where(Provider.enabled.is_(True))).all():
        if other.id == except_id:
            continue
        taken = wanted.intersection(other.models)
        if taken:
            model = sorted(taken)[0]
            raise ConflictError(
                f"model '{model}' is already served by provider '{other.name}'; a model routes to one "
                "provider",
                field="models",
            )


class Routes:
    """Model name -> enabled provider, in memory. Immutable: build a new one after a change."""

    def __init__(self, providers: Sequence[ProviderConfig]) -> None:
        self.providers = tuple(p for p in providers if p.enabled)
        self._by_model = {model: p for p in self.providers for model in p.models}

    @classmethod
    def load(cls, session: Session) -> Routes:
        return cls(list_providers(session))

    def provider_for(self, model: str) -> ProviderConfig | None:
        return self._by_model.get(model)

    def models(self) -> list[tuple[str, ProviderConfig]]:
        """Every routable model with its provider, sorted by model name (for GET /v1/models)."""
        return sorted(self._by_model.items())
