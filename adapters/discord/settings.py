"""Discord settings from the environment, with one clear line when something is missing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.slack.settings import MissingSetting

__all__ = ["DiscordSettings", "MissingSetting", "one_line"]


def one_line(error: ValidationError) -> str:
    """A settings error as one sentence naming the variable and what it must be."""
    first = error.errors()[0]
    name = str(first["loc"][0]) if first.get("loc") else "a setting"
    return f"{name} is not valid ({first['msg'].lower()}), got {first.get('input')!r}."


class DiscordSettings(BaseSettings):
    """Everything ``lodestar serve discord`` reads from the environment."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    token: str | None = Field(None, validation_alias="DISCORD_TOKEN")
    #: The REST base, e.g. ``http://127.0.0.1:PORT/api/v10``; None means Discord's own.
    #: When set, the gateway is whatever ``GET /gateway/bot`` answers there.
    api_url: str | None = Field(None, validation_alias="DISCORD_API_URL")
    #: Sync commands to this guild only (instant, for development) instead of globally.
    guild_id: int | None = Field(None, validation_alias="DISCORD_GUILD_ID")
    #: Shards to run; unset: one, or as many as Discord recommends when it says more.
    shards: int | None = Field(None, ge=1, le=1000, validation_alias="DISCORD_SHARDS")
    #: A role (id or name) whose members are board admins, besides Manage Server.
    admin_role: str | None = Field(None, validation_alias="LODESTAR_DISCORD_ADMIN_ROLE")
    #: The privileged Message Content intent: needed to log a message by 💡.
    message_content: bool = Field(True, validation_alias="LODESTAR_DISCORD_MESSAGE_CONTENT")
    application_id: int | None = Field(None, validation_alias="DISCORD_APPLICATION_ID")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    capture_emoji: str = Field("💡", validation_alias="LODESTAR_CAPTURE_EMOJI")
    vote_emoji: str = Field("👍", validation_alias="LODESTAR_VOTE_EMOJI")
    dispatch_every: float = Field(5.0, validation_alias="LODESTAR_DISPATCH_EVERY")
    #: The core on worker threads (default): the gateway's heartbeat never waits for it.
    core_runner: Literal["inline", "thread", "auto"] = Field(
        "thread", validation_alias="LODESTAR_DISCORD_CORE"
    )

    def check(self) -> DiscordSettings:
        if not self.token:
            raise MissingSetting(
                "DISCORD_TOKEN is not set: find it in the Developer Portal, "
                "your application › Bot › Reset Token."
            )
        return self
