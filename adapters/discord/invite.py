"""The link that adds Lodestar to a Discord server, with exactly what it needs."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlencode

import discord

SCOPES = ("bot", "applications.commands")

#: What Lodestar does in a channel, and nothing more.
PERMISSIONS = discord.Permissions(
    view_channel=True,  # see the channels it is asked about
    send_messages=True,  # item cards, replies to captured messages, announcements
    send_messages_in_threads=True,  # when the captured message lives in a thread
    embed_links=True,  # cards are embeds
    attach_files=True,  # the weekly chart, CSV exports
    read_message_history=True,  # read a message someone reacted 💡 to
    add_reactions=True,
)


def application_id_of(token: str) -> int | None:
    """A bot token starts with its user id (the application's id), base64-encoded."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(decoded) if decoded.isdecimal() else None


def invite_url(application_id: int, guild_id: int | None = None) -> str:
    query = {
        "client_id": str(application_id),
        "scope": " ".join(SCOPES),
        "permissions": str(PERMISSIONS.value),
    }
    if guild_id is not None:
        query |= {"guild_id": str(guild_id), "disable_guild_select": "true"}
    return "https://discord.com/oauth2/authorize?" + urlencode(query)
