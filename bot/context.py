"""Who is speaking, where: what every adapter hands the core with each call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    platform: str  # "console" | "slack" | "discord" | "api"
    workspace: str  # the team / guild / console id on that platform
    user: str  # the platform's user id
    name: str  # display name
    channel: str | None = None
    is_platform_admin: bool = False
    workspace_name: str | None = None


#: The user id of Lodestar itself, acting for a workspace (scheduled posts): it reads
#: the board like anyone, is an admin, and is never stored as a person.
SYSTEM_USER = "lodestar:system"


def system_caller(platform: str, workspace: str, workspace_name: str | None = None) -> Caller:
    return Caller(platform, workspace, SYSTEM_USER, "Lodestar", None, True, workspace_name)


@dataclass(frozen=True)
class ChatMessage:
    """A message somebody else wrote, as the adapter fetched it."""

    channel: str
    message_id: str
    author: str  # platform user id
    author_name: str
    text: str
    permalink: str | None = None
