"""Shared pieces of the Slack adapter tests: the real Bolt app over the fake Web API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from slack_sdk.http_retry import builtin_async_handlers

from adapters.slack.app import SlackBot, build_slack_bot
from adapters.slack.server import create_web_app
from adapters.slack.settings import SlackSettings
from bot.app import Lodestar
from bot.context import Caller
from tests.slack_fake import BOT_TOKEN, FakeSlackWebAPI, payloads

SECRET = "lodestar-test-signing-secret"
TEAM = payloads.TEAM_ID
ALICE, BOB, CAROL, DAVE, ADA = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ADA"
GENERAL = payloads.CHANNEL_ID


def settings_for(fake: FakeSlackWebAPI, **extra: Any) -> SlackSettings:
    values: dict[str, Any] = {
        "bot_token": BOT_TOKEN,
        "signing_secret": SECRET,
        "api_url": fake.api_url,
    }
    return SlackSettings(**{**values, **extra})


def seed_people(fake: FakeSlackWebAPI) -> None:
    fake.add_user(ALICE, name="alice")
    fake.add_user(BOB, name="bob")
    fake.add_user(CAROL, name="carol")
    fake.add_user(DAVE, name="dave")
    fake.add_user(ADA, name="ada", is_admin=True)
    fake.add_channel(GENERAL, "general")


def caller(user: str = ALICE, name: str = "alice", admin: bool = False) -> Caller:
    """The same person as the core sees them when they come through Slack."""
    return Caller("slack", TEAM, user, name, channel=GENERAL, is_platform_admin=admin)


@dataclass
class Slack:
    """The Bolt app served over ASGI, plus the fake it talks to and the core behind it."""

    bot: SlackBot
    http: httpx.AsyncClient
    fake: FakeSlackWebAPI
    lodestar: Lodestar

    async def send(
        self, req: payloads.SlackRequest, *, settle: bool = True, **header_args: Any
    ) -> httpx.Response:
        """POST a signed request to /slack/events; by default wait for its background work."""
        resp = await self.http.post(
            "/slack/events", content=req.body, headers=req.headers(SECRET, **header_args)
        )
        if settle:
            await self.bot.tasks.drain()
        return resp

    async def command(self, text: str, user: str = ALICE, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("response_url", self.fake.response_url())
        req = payloads.slash_command("/feedback", text, user_id=user, **kwargs)
        resp = await self.send(req)
        assert resp.status_code == 200, resp.text
        return resp

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Successful chat.postMessage params, optionally in one channel."""
        return [
            c.params
            for c in self.fake.calls_to("chat.postMessage")
            if c.ok and (channel is None or c.response["channel"] == channel)
        ]

    def card_ts(self, number: int) -> str:
        """The ts of the last card posted for item ``number``."""
        for call in reversed(self.fake.calls_to("chat.postMessage")):
            blocks = call.params.get("blocks") or []
            if call.ok and any(b.get("block_id") == f"card:{number}" for b in blocks):
                return str(call.response["ts"])
        raise AssertionError(f"no card for #{number}")


def ack_json(resp: httpx.Response) -> dict[str, Any]:
    return json.loads(resp.text) if resp.text else {}


def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk sleeps Retry-After + random() seconds on a 429; keep tests fast."""
    monkeypatch.setattr(builtin_async_handlers.random, "random", lambda: 0.0)


async def open_slack(lodestar: Lodestar, fake: FakeSlackWebAPI) -> AsyncIterator[Slack]:
    bot = build_slack_bot(lodestar, settings_for(fake))
    web = create_web_app(bot, dispatch=False)
    transport = httpx.ASGITransport(app=web)
    async with httpx.AsyncClient(transport=transport, base_url="http://slack.test") as http:
        yield Slack(bot, http, fake, lodestar)
    await bot.close()


async def open_installed_slack(
    lodestar: Lodestar, fake: FakeSlackWebAPI, tokens: dict[str, str]
) -> AsyncIterator[Slack]:
    """Lodestar distributed with OAuth, installed in each team of ``tokens`` (team id →
    bot token), the installations saved in slack_sdk's real store in our database."""
    from slack_sdk.oauth.installation_store import Installation

    settings = settings_for(fake, client_id="111.222", client_secret="shh", bot_token=None)
    bot = build_slack_bot(lodestar, settings)
    store = bot.app.installation_store
    assert store is not None
    for team, token in tokens.items():
        fake.add_token(token, team)
        await store.async_save(
            Installation(
                app_id=payloads.API_APP_ID,
                enterprise_id=None,
                team_id=team,
                bot_token=token,
                bot_id=payloads.BOT_ID,
                bot_user_id=payloads.BOT_USER_ID,
                bot_scopes="commands,chat:write",
                user_id=ALICE,
            )
        )
    web = create_web_app(bot, dispatch=False)
    transport = httpx.ASGITransport(app=web)
    async with httpx.AsyncClient(transport=transport, base_url="http://slack.test") as http:
        yield Slack(bot, http, fake, lodestar)
    await bot.close()
