"""Delivers outbox notices on Discord: DMs, replies to captured messages,
announcements, images as attachments.

discord.py waits out 429s itself (its own buckets and Retry-After) and retries
5xx a few times; anything it finally raises goes back to the dispatcher, which
retries that one notice later and carries on. A person who cannot be messaged
(DMs closed, unknown user) is ``Undeliverable``: recorded, never retried.
"""

from __future__ import annotations

import re

import discord

from adapters.discord import render
from bot.notify.ports import ChannelPost, Recipient, Undeliverable
from bot.replies import Reply

PLATFORM = "discord"
#: Discord's codes for "this can never be delivered" (until someone changes something).
_NEVER = {
    50007: "they do not accept DMs",
    10013: "unknown user",
    50033: "invalid recipient",
    10003: "unknown channel",
    50001: "Lodestar cannot see that channel",
    50013: "Lodestar may not post in that channel",
}
#: Text and announcement channels: where a name can be posted to.
_TEXT_CHANNELS = (discord.ChannelType.text.value, discord.ChannelType.news.value)
_CHANNEL_MENTION = re.compile(r"<#([0-9]{15,21})>")


def channel_id(client: discord.Client, guild_id: str, channel: str) -> int | None:
    """``<#123>`` or ``123`` → 123; a name → that text channel of the guild (or None)."""
    channel = channel.strip()
    match = _CHANNEL_MENTION.fullmatch(channel)
    if match:
        return int(match.group(1))
    if channel.isdecimal() and channel.isascii():
        return int(channel)
    guild = client.get_guild(int(guild_id)) if guild_id.isdecimal() else None
    if guild is None:
        return None
    found = discord.utils.get(guild.text_channels, name=channel.lstrip("#").lower())
    return None if found is None else found.id


class DiscordMessenger:
    platform = PLATFORM

    def __init__(self, client: discord.Client, token: str | None = None) -> None:
        self.client = client
        self._token = token  # to log in at the first send, if start-up could not

    async def close(self) -> None:
        await self.client.close()

    async def _logged_in(self) -> None:
        if self._token and self.client.http.token is None:
            await self.client.login(self._token)

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        await self._logged_in()
        try:
            dm = await self.client.http.start_private_message(int(to.user))
            channel = self.client.get_partial_messageable(int(dm["id"]))
            # The nonce makes a resend after a crash the same message (Discord dedupes it).
            await channel.send(**render.message([reply]), nonce=to.nonce if to.key else None)
        except (discord.Forbidden, discord.NotFound) as error:
            if error.code in _NEVER:
                raise Undeliverable(_NEVER[error.code]) from error
            raise

    async def _channel(self, guild_id: str, channel: str) -> int | None:
        """The channel's id; a name is looked up in the guild's cache where this client
        has a gateway, else through REST (the scheduler's client has none)."""
        found = channel_id(self.client, guild_id, channel)
        if found is not None or not guild_id.isdecimal():
            return found
        if self.client.get_guild(int(guild_id)) is not None:
            return None  # the cache is the guild's: no such channel
        try:
            channels = await self.client.http.get_all_guild_channels(int(guild_id))
        except (discord.Forbidden, discord.NotFound):
            return None
        name = channel.strip().lstrip("#").lower()
        for c in channels:
            if c.get("type") in _TEXT_CHANNELS and c.get("name") == name:
                return int(c["id"])
        return None

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> tuple[str, str] | None:
        await self._logged_in()
        found = await self._channel(to.workspace, to.channel)
        if found is None:
            raise Undeliverable(f"there is no channel {to.channel!r} in this server")
        channel = self.client.get_partial_messageable(found)
        if to.edit is not None and reply.card is not None:  # redraw a card
            try:
                await channel.get_partial_message(int(to.edit)).edit(
                    **render.card_message(reply.card)
                )
            except (discord.Forbidden, discord.NotFound) as error:
                raise Undeliverable(f"the card is gone or out of reach ({error.code})") from error
            return None
        body = render.reply_message(reply)
        if to.thread:
            body["reference"] = discord.MessageReference(
                message_id=int(to.thread), channel_id=found, fail_if_not_exists=False
            )
        if to.key:
            body["nonce"] = to.nonce
        try:
            sent = await channel.send(**body)
        except (discord.Forbidden, discord.NotFound) as error:
            if error.code in _NEVER:
                raise Undeliverable(_NEVER[error.code]) from error
            raise
        return str(found), str(sent.id)
