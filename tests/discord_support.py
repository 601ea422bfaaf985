"""Shared pieces of the Discord adapter tests: the real discord.py client, driven by
the local stand-in of Discord's REST API and gateway (``tests/discord_fake``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from adapters.discord.bot import DiscordBot
from adapters.discord.settings import DiscordSettings
from bot.app import Lodestar
from bot.context import Caller
from tests.discord_fake import BOT_TOKEN, CHANNEL_ID, GUILD_ID, Call, FakeDiscord, payloads

CAROL_ID, DAVE_ID = 1_210_000_000_000_200_003, 1_210_000_000_000_200_004


def person(name: str) -> dict[str, Any]:
    if name == "alice":
        return payloads.alice()
    if name == "bob":
        return payloads.bob()
    return payloads.user({"carol": CAROL_ID, "dave": DAVE_ID}[name], name)


def caller(name: str = "alice", admin: bool = False) -> Caller:
    """The same person as the core sees them when they come through Discord."""
    return Caller(
        "discord", str(GUILD_ID), str(person(name)["id"]), name.title(), str(CHANNEL_ID), admin
    )


@dataclass
class Answer:
    """How the adapter answered one interaction: every REST call for it, in order."""

    payload: dict[str, Any]
    calls: list[Call]
    fake: FakeDiscord

    @property
    def message_id(self) -> str | None:
        """The id of the interaction's own message (its public or private answer)."""
        return self.fake.interaction(self.payload["id"]).original_id

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The messages sent (callback data, followups), in order."""
        out = []
        for call in self.calls:
            body = call.json or {}
            out.append(body.get("data", body) if "type" in body else body)
        return out

    @property
    def texts(self) -> list[str]:
        return [content_of(body) for body in self.bodies if body]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def content_of(body: dict[str, Any]) -> str:
    """What a person reads: the content (or the first embed's text), markdown escapes gone."""
    embeds = body.get("embeds") or []
    raw = body.get("content") or (embeds[0].get("description", "") if embeds else "")
    return re.sub(r"\\(.)", r"\1", raw)


@dataclass
class Discord:
    """The adapter's client connected to the fake, plus the core behind it."""

    bot: DiscordBot
    fake: FakeDiscord
    lodestar: Lodestar

    async def interact(self, payload: dict[str, Any]) -> Answer:
        """Send an INTERACTION_CREATE and wait until the adapter has finished with it."""
        self.fake.dispatch("INTERACTION_CREATE", payload)
        for _ in range(500):
            record = self.fake.interaction(payload["id"])
            if record.response_type is not None:
                break
            await asyncio.sleep(0.01)
        await self.settle()
        return Answer(payload, self.fake.interaction_responses(payload["id"]), self.fake)

    async def command(
        self, text: str | None, who: str = "alice", name: str = "feedback", **kwargs: Any
    ) -> Answer:
        kwargs.setdefault("invoker", person(who))
        return await self.interact(payloads.slash_command(name, text, **kwargs))

    async def click(self, verb: str, number: int, card: dict[str, Any], who: str) -> Answer:
        """Press a card's button (its own custom id, which says the number it showed)."""
        (custom_id,) = [
            c["custom_id"]
            for row in card["components"]
            for c in row["components"]
            if c["custom_id"].split("@")[0] == f"lodestar:{verb}:{number}"
        ]
        return await self.interact(payloads.button_click(custom_id, card, invoker=person(who)))

    async def react(
        self, message: dict[str, Any], emoji: Any, who: str, *, added: bool = True
    ) -> None:
        if added:
            payload = payloads.reaction_add(message, emoji, reactor=person(who))
            self.fake.dispatch("MESSAGE_REACTION_ADD", payload)
        else:
            payload = payloads.reaction_remove(message, emoji, user_id=person(who)["id"])
            self.fake.dispatch("MESSAGE_REACTION_REMOVE", payload)
        await self.settle()

    async def settle(self) -> None:
        """Wait until the adapter's follow-up work and gateway echoes are done."""
        for _ in range(4):
            await asyncio.sleep(0.03)
            await self.bot.tasks.drain()

    def cards(self, channel: int = CHANNEL_ID) -> list[dict[str, Any]]:
        """Messages in the channel that carry a card (buttons)."""
        return [m for m in self.fake.messages_in(channel) if m.get("components")]

    def card(self, number: int) -> dict[str, Any]:
        """The newest posted card of item ``number``."""
        for message in reversed(self.cards()):
            ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
            if any(i.split("@")[0] == f"lodestar:vote:{number}" for i in ids):
                return message
        raise AssertionError(f"no card for #{number}")


async def open_discord(
    lodestar: Lodestar, fake: FakeDiscord, **settings: Any
) -> AsyncIterator[Discord]:
    values: dict[str, Any] = {"token": BOT_TOKEN, "api_url": fake.api_url, "core_runner": "thread"}
    bot = DiscordBot(lodestar, DiscordSettings(**{**values, **settings}))
    bot.client._connection.guild_ready_timeout = 0.05  # type: ignore[attr-defined]
    await bot.client.login(BOT_TOKEN)
    runner = asyncio.create_task(bot.client.connect())
    await asyncio.wait_for(bot.client.wait_until_ready(), 10)
    try:
        yield Discord(bot, fake, lodestar)
    finally:
        await bot.close()
        await asyncio.wait_for(runner, 10)
