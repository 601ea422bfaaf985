"""Slack settings from the environment, with one clear line when something is missing."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MissingSetting(RuntimeError):
    """A required environment variable is not set; the message names it."""


_WHERE = {
    "SLACK_BOT_TOKEN": "the app's OAuth & Permissions page (xoxb-…)",
    "SLACK_SIGNING_SECRET": "the app's Basic Information page",
    "SLACK_APP_TOKEN": "Basic Information › App-Level Tokens (xapp-…, scope connections:write)",
    "SLACK_CLIENT_SECRET": "the app's Basic Information page",
    "SLACK_CLIENT_ID": "the app's Basic Information page",
}


class SlackSettings(BaseSettings):
    """Everything ``lodestar serve slack`` reads from the environment."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    bot_token: str | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    signing_secret: str | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    app_token: str | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    #: The Web API base URL, ending in ``/api/``; None means slack_sdk's default.
    api_url: str | None = Field(None, validation_alias="SLACK_API_URL")
    client_id: str | None = Field(None, validation_alias="SLACK_CLIENT_ID")
    client_secret: str | None = Field(None, validation_alias="SLACK_CLIENT_SECRET")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    port: int = Field(3000, validation_alias="PORT")
    host: str = Field("0.0.0.0", validation_alias=AliasChoices("LODESTAR_HOST", "HOST"))
    capture_emoji: str = Field("bulb", validation_alias="LODESTAR_CAPTURE_EMOJI")
    vote_emoji: str = Field("+1", validation_alias="LODESTAR_VOTE_EMOJI")
    #: Seconds between two runs of the outbox dispatcher (it also runs right after a ship).
    dispatch_every: float = Field(5.0, validation_alias="LODESTAR_DISPATCH_EVERY")
    #: How long a users.info answer (name, admin) is trusted.
    people_ttl: float = Field(600.0, validation_alias="LODESTAR_SLACK_PEOPLE_TTL")
    #: "thread" (and "auto") runs the synchronous core on worker threads, ack-path calls
    #: first; "inline" on the event loop (a database wait would then stall every request).
    core_runner: str = Field("thread", validation_alias="LODESTAR_SLACK_CORE")

    @property
    def oauth(self) -> bool:
        """Distribution to many workspaces: Bolt's OAuth flow and an installation store."""
        return bool(self.client_id or self.client_secret)

    def check(self, *, socket_mode: bool) -> SlackSettings:
        """Raise MissingSetting naming the first variable this mode needs and lacks."""
        needed = []
        if self.oauth:
            needed += ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"]
        else:
            needed.append("SLACK_BOT_TOKEN")
        needed.append("SLACK_APP_TOKEN" if socket_mode else "SLACK_SIGNING_SECRET")
        values = {
            "SLACK_BOT_TOKEN": self.bot_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_APP_TOKEN": self.app_token,
            "SLACK_CLIENT_ID": self.client_id,
            "SLACK_CLIENT_SECRET": self.client_secret,
        }
        for name in needed:
            if not values[name]:
                mode = "Socket Mode" if socket_mode else "HTTP mode"
                raise MissingSetting(
                    f"{name} is not set: {mode} needs it (find it on {_WHERE[name]})."
                )
        return self
