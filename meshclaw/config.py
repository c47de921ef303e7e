"""Settings: built once by the entry point (`load_settings`) and passed down; never a module global.

Sources, highest priority first: explicit overrides (CLI flags), `MESHCLAW_*` environment variables,
the optional TOML file (`MESHCLAW_CONFIG` or `--config`), then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

LogLevel = Literal["debug", "info", "warning", "error"]


class Settings(BaseSettings):
    """Everything a MeshClaw process needs to know about its deployment."""

    model_config = SettingsConfigDict(env_prefix="MESHCLAW_", extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    """Address the HTTP server binds to."""
    port: int = Field(default=8700, ge=1, le=65535)
    """Port of the one HTTP server that serves the API, the web UI, the gateway and OTLP ingest."""
    data_dir: Path = Path("./data")
    """Where the SQLite databases and local state live."""
    database_url: str | None = None
    """SQLAlchemy URL; unset means SQLite at `<data_dir>/meshclaw.db`. `postgresql://…` for scale-out."""
    public_url: str | None = None
    """The URL people reach the server at (for links printed and mailed); defaults to http://host:port."""
    org_name: str = "MeshClaw"
    """Name given to the organization created on first start."""
    log_level: LogLevel = "info"
    log_json: bool = False
    """Structured JSON logs, one object per line."""
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    """Largest request body accepted; larger ones get 413 before they are read."""
    gateway_timeout_s: float = Field(default=600.0, gt=0)
    """How long the gateway waits for a provider to send the next bytes (504 after that)."""
    session_ttl_hours: int = Field(default=12, ge=1, le=24 * 30)
    """How long a web sign-in lasts without activity."""
    login_max_failures: int = Field(default=5, ge=1)
    """Failed sign-ins per email (and 4x that per client address) in `login_window_minutes` before 429."""
    login_window_minutes: int = Field(default=15, ge=1)
    setup_token_ttl_hours: int = Field(default=72, ge=1)
    """Lifetime of the one-time link that sets the first admin's password."""
    oidc_issuer: str | None = None
    """OpenID Connect issuer URL; when set with client id and secret, the login page offers SSO."""
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_auto_create_users: bool = False
    """Create a member account on first SSO sign-in; off means only known emails may sign in."""
    runs_engine: bool = True
    """Run the durable-run engine (DBOS: agent runs, triggers, queues) in this process. Off for a process
    that only serves HTTP while worker processes on the same PostgreSQL database execute the runs."""
    runs_executor_id: str = "meshclaw"
    """This process's DBOS executor id. It must stay the same across restarts (a restarted executor
    recovers only its own pending runs) and differ between worker processes sharing a database."""
    runs_org_concurrency: int = Field(default=100, ge=1)
    """Runs executing at once in the whole organization; more wait in the queue."""
    runs_user_concurrency: int = Field(default=10, ge=1)
    """Runs of one owner's agents executing at once."""
    runs_agent_concurrency: int = Field(default=4, ge=1)
    """Runs of one agent at once, for agents that allow overlap (others run one at a time)."""
    runs_queue_poll_seconds: float = Field(default=0.5, ge=0.05, le=10)
    """How often the runs engine looks for queued runs: the longest a started run waits before it begins.
    Each look is a database query on a background thread; at 0.1 s the server burned ~80 ms of CPU per
    second doing nothing, which showed in the gateway's tail latency (0.5 s: ~40, 1 s: ~30)."""
    runs_tick_seconds: float = Field(default=15.0, gt=0)
    """How often cron, interval and one-shot triggers are checked (a trigger fires at most this late)."""
    runs_checkpoint_retention_hours: float = Field(default=168.0, gt=0)
    """How long a finished run's step checkpoints (its recorded model responses and tool results, kept so a
    crashed run resumes without repeating a step) are kept after it ended; checked hourly."""
    approval_expiry_hours: float = Field(default=24.0, gt=0)
    """How long an approval request stays open. A run waits for it durably (across restarts) that long;
    then the call counts as denied ("approval expired") and the run carries on, its model told why."""
    runs_executor: str | None = None
    """`module:attribute` naming the function that executes a run; unset means the agent runtime. Tests
    and deployments with their own playbook engine point it elsewhere."""

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("MESHCLAW_DATABASE_URL must start with sqlite:// or postgresql://")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # psycopg 3 is the driver we ship; a plain postgresql:// URL would ask for psycopg2.
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.data_dir / 'meshclaw.db').resolve()}"

    @property
    def resolved_runs_database_url(self) -> str:
        """The DBOS system database: its own SQLite file beside ours (DBOS writes often and would queue
        behind our writer on one file), or the same PostgreSQL database (DBOS keeps to its `dbos` schema)."""
        if self.database_url and self.database_url.startswith("postgresql"):
            return self.resolved_database_url
        return f"sqlite:///{(self.data_dir / 'runs-engine.db').resolve()}"

    @property
    def metering_journal_dir(self) -> Path:
        """Where metering's crash journal and its set-aside events (`refused.jsonl`) live."""
        return self.data_dir / "metering-journal"

    @property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag whenever people reach us over HTTPS."""
        return self.resolved_public_url.startswith("https://")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, an optional TOML file and explicit overrides.

    Raises `meshclaw.errors.InvalidInputError` naming the offending setting, so the CLI can say what to fix.
    """
    from pydantic import ValidationError

    from meshclaw.errors import InvalidInputError

    if config_file is None and os.environ.get("MESHCLAW_CONFIG"):
        config_file = Path(os.environ["MESHCLAW_CONFIG"])
    settings_cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise InvalidInputError(f"config file {config_file} does not exist", field="config")

        class FileSettings(Settings):
            model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})

        settings_cls = FileSettings
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        return settings_cls(**clean)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        raise InvalidInputError(
            f"setting {name!r} (env MESHCLAW_{name.upper()}): {first['msg']}", field=name
        ) from None
