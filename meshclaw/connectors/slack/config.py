"""One Slack account: a workspace's bot token, the app's signing secret, optionally a person's user token
and an app-level token for Socket Mode."""

from __future__ import annotations

from pydantic import Field, SecretStr

from meshclaw.connectors.contract import AccountConfig


class SlackConfig(AccountConfig):
    bot_token: SecretStr = Field(description="The bot token (`xoxb-...`); the tools act as the bot.")
    user_token: SecretStr | None = Field(
        default=None,
        description="Optional user token (`xoxp-...`) for acting as a person; no tool needs it today, so "
        "leave it out unless a later tool asks for it (least privilege).",
    )
    signing_secret: SecretStr = Field(
        description="The app's signing secret: Events API and interactivity requests must carry its signature."
    )
    app_token: SecretStr | None = Field(
        default=None,
        description="App-level token (`xapp-...`, scope connections:write) for Socket Mode; without it, "
        "events arrive only over HTTP (the Events API).",
    )
    base_url: str = Field(
        default="https://slack.com/api/",
        description="The Web API's base URL (tests point it at an emulator).",
    )
    owner_slack_user: str | None = Field(
        default=None,
        description="The owner's Slack user id (`U024BE7LH`): approvals are posted to their DM with the bot.",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="How long one Web API call may take before it fails."
    )
    max_retry_after_seconds: int = Field(
        default=30,
        ge=0,
        le=300,
        description="A rate-limited call (429) is retried after Slack's Retry-After only when it is at most "
        "this long; otherwise the tool fails and says when to try again.",
    )
