"""One conversation, three platforms: the console, Slack and Discord give the same
answers, because every rule is in the core and the adapters only translate."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bot.app import Lodestar
from bot.context import Caller
from tests.conversation import Chat
from tests.discord_fake import GUILD_ID, FakeDiscord, Permission, fake_discord_fixture
from tests.discord_support import open_discord
from tests.slack_fake import FakeSlackWebAPI, fake_slack_fixture
from tests.slack_support import ADA, ALICE, BOB, CAROL, DAVE, open_slack, seed_people

fake = fake_slack_fixture("fake")
fake_discord = fake_discord_fixture()

#: (who, /feedback text, is an admin)
SCRIPT = [
    ("ana", "Dark mode for the editor", False),
    ("bo", "A night theme", False),
    ("cy", "vote #1", False),
    ("pm", "merge #2 into #1", True),
    ("dee", "vote #2", False),
    ("bo", "vote #1", False),
    ("ana", "Export to PDF", False),
    ("pm", "status #3 planned", True),
    ("pm", "ship #1 It is live", True),
    ("cy", "unvote #1", False),
]
Say = Callable[[str, str, bool], Awaitable[None]]
#: Each board as (number, status, demand, merged into), after the script.
State = list[tuple[int, str, int, int | None]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def board(app: Lodestar, caller: Caller) -> State:
    return [(v.number, v.status, v.demand, v.merged_into) for v in app.board.items(caller)]


async def play(say: Say) -> None:
    for who, text, admin in SCRIPT:
        await say(who, text, admin)


@pytest.mark.anyio
async def test_the_same_script_gives_the_same_board_everywhere(
    app: Lodestar, fake: FakeSlackWebAPI, fake_discord: FakeDiscord
) -> None:
    chat = Chat(app, "console-team")

    async def on_console(who: str, text: str, admin: bool) -> None:
        # The console runs its own event loop to deliver notices: keep it off this one.
        await asyncio.to_thread(chat.as_(who, admin).say, f"/feedback {text}")

    await play(on_console)
    console = board(app, Caller("console", "console-team", "pm", "pm"))

    seed_people(fake)
    slack_ids = {"ana": ALICE, "bo": BOB, "cy": CAROL, "dee": DAVE, "pm": ADA}
    async for slack in open_slack(app, fake):

        async def on_slack(who: str, text: str, admin: bool, slack=slack) -> None:
            await slack.command(text, user=slack_ids[who])

        await play(on_slack)
    slack_board = board(app, Caller("slack", "T0LODE", ALICE, "alice"))

    discord_ids = {"ana": "alice", "bo": "bob", "cy": "carol", "dee": "dave", "pm": "alice"}
    manage = Permission.MEMBER | Permission.MANAGE_GUILD
    async for discord in open_discord(app, fake_discord):

        async def on_discord(who: str, text: str, admin: bool, discord=discord) -> None:
            extra = {"permissions": manage} if admin else {}
            await discord.command(text, who=discord_ids[who], **extra)

        await play(on_discord)
    discord_board = board(app, Caller("discord", str(GUILD_ID), "x", "x"))

    assert console == [(1, "shipped", 3, None), (2, "shipped", 3, 1), (3, "planned", 1, None)]
    assert slack_board == console
    assert discord_board == console


@pytest.mark.anyio
async def test_a_change_on_discord_redraws_the_cards_on_slack_of_a_joined_board(
    app: Lodestar, fake: FakeSlackWebAPI, fake_discord: FakeDiscord
) -> None:
    import json

    seed_people(fake)
    manage = Permission.MEMBER | Permission.MANAGE_GUILD
    async for slack in open_slack(app, fake):
        await slack.command("Dark mode")
        card_ts = slack.card_ts(1)
        code_reply = await slack.command("board join", user=ADA)
        code = json.loads(code_reply.text)["text"].split("code: ")[1].split(".")[0]
        async for discord in open_discord(app, fake_discord):
            await discord.command(f"board join {code}", permissions=manage)
            voted = await discord.command("vote #1", who="bob")
            assert voted.text.startswith("👍 Vote counted for #1: demand 2")
            await discord.command("ship #1 live", permissions=manage)
        await slack.bot.outbox.run_now()  # the Slack process delivers its redraws
        await slack.bot.tasks.drain()
        updates = [c.params for c in fake.calls_to("chat.update") if c.params["ts"] == card_ts]
        assert updates, "the Slack card was never redrawn"
        shown = json.dumps(updates[-1]["blocks"], ensure_ascii=False)
        assert "shipped" in shown and "demand *2*" in shown
