"""Ship notices: one per unique person, exactly once, whatever happens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import Lodestar
from bot.notify.ports import ChannelPost, Recipient, Undeliverable
from bot.replies import Reply
from tests.conversation import Chat


class Crash(BaseException):
    """Stands for the process dying: nothing in the dispatcher may catch it."""


class FlakyMessenger:
    """Delivers like the console, but dies after ``crash_after`` deliveries or
    raises a platform error for one person."""

    platform = "console"

    def __init__(
        self, crash_after: int | None = None, fail_for: str | None = None, gone: str | None = None
    ) -> None:
        self.crash_after = crash_after
        self.fail_for = fail_for
        self.gone = gone
        self.dms: list[str] = []
        self.posts: list[tuple[str, str | None]] = []

    def _tick(self) -> None:
        if self.crash_after is not None and len(self.dms) + len(self.posts) >= self.crash_after:
            raise Crash()

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        self._tick()
        if to.name == self.fail_for:
            raise RuntimeError("ratelimited")
        if to.name == self.gone:
            raise Undeliverable("account_inactive")
        self.dms.append(to.name)

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> None:
        self._tick()
        self.posts.append((to.channel, to.thread))


@pytest.fixture
def board(app: Lodestar) -> Chat:
    """#1 and #2 (merged into #1), asked for or voted on by five people, one of whom
    asked twice and voted three times; a message captured by reaction; and an
    announcement channel."""
    chat = Chat(app)
    chat.as_("ana").say("/feedback dark mode")
    chat.as_("bo").say("/feedback night theme")
    chat.as_("cy").say("please, a dark theme for late nights")
    chat.as_("ana").say(":react 💡 ^")  # #3, requested by cy
    for who in ("dee", "eli"):
        chat.as_(who).say("/feedback vote #1")
    for n in (1, 2, 3):
        chat.as_("ana").say(f"/feedback vote #{n}")
    chat.as_("pm", admin=True)
    chat.say("/feedback merge #2 into #1")
    chat.say("/feedback merge #3 into #1")
    chat.say("/feedback announce launches")
    return chat


def test_ship_notifies_every_unique_person_once_and_every_thread(board: Chat) -> None:
    reply = board.reply("/feedback ship #1 Dark mode is live")
    assert reply["private"] is False and reply["queued"] == {
        "people": 5,
        "threads": 1,
        "announcements": 1,
    }
    dms = sorted(n["to"] for n in board.notices if "to" in n)
    assert dms == ["ana", "bo", "cy", "dee", "eli"]
    posts = [(n["channel"], n["thread"]) for n in board.notices if "channel" in n]
    captured = board.session.last_message  # cy's message, captured by 💡
    assert posts == [("general", captured), ("launches", None)]
    assert all("Dark mode is live" in n["text"] for n in board.notices)


def test_a_second_ship_says_so_and_queues_nothing(board: Chat) -> None:
    board.say("/feedback ship #1")
    sent = len(board.notices)
    again = board.reply("/feedback ship #2")  # the same group, through another of its items
    assert again["text"] == "#1 was already shipped on 2026-11-02; no notices were queued again."
    board.say(":run-jobs 2026-11-09T00:00:00+00:00")
    assert len(board.notices) == sent


def test_muted_people_get_no_dm(board: Chat) -> None:
    board.as_("dee").say("/feedback mute")
    board.as_("pm", admin=True)
    reply = board.reply("/feedback ship #1")
    assert "(1 muted)" in reply["text"]
    assert "dee" not in [n.get("to") for n in board.notices]


def test_a_crash_half_way_loses_nothing_and_sends_nothing_twice(app: Lodestar, board: Chat) -> None:
    board.session.messenger.platform = "elsewhere"  # keep the console from delivering
    board.session.run_jobs = lambda at=None, watch=False: None  # type: ignore[method-assign]
    board.say("/feedback ship #1")
    first = FlakyMessenger(crash_after=3)
    with pytest.raises(Crash):
        asyncio.run(app.dispatcher({"console": first}).run_once())
    assert len(first.dms) + len(first.posts) == 3
    later = datetime.now(UTC) + timedelta(minutes=2)  # the crashed one's heartbeat stopped
    second = FlakyMessenger()
    asyncio.run(app.dispatcher({"console": second}, wall=lambda: later).run_once())
    third = FlakyMessenger()
    asyncio.run(app.dispatcher({"console": third}, wall=lambda: later).run_once())
    assert third.dms == [] and third.posts == []
    dms = first.dms + second.dms
    assert sorted(dms) == ["ana", "bo", "cy", "dee", "eli"]
    assert len(first.posts + second.posts) == 2


def test_one_failing_dm_never_stops_the_rest_and_is_retried(app: Lodestar, board: Chat) -> None:
    board.session.run_jobs = lambda at=None, watch=False: None  # type: ignore[method-assign]
    board.say("/feedback ship #1")
    messenger = FlakyMessenger(fail_for="bo")
    report = asyncio.run(app.dispatcher({"console": messenger}).run_once())
    assert (report.sent, report.retried) == (6, 1)
    assert sorted(messenger.dms) == ["ana", "cy", "dee", "eli"]
    messenger.fail_for = None
    asyncio.run(app.dispatcher({"console": messenger}).run_once())  # not due yet
    assert "bo" not in messenger.dms
    app.clock.advance(minutes=1)
    asyncio.run(app.dispatcher({"console": messenger}).run_once())
    assert sorted(messenger.dms) == ["ana", "bo", "cy", "dee", "eli"]


def test_a_notice_that_can_never_be_delivered_is_given_up_at_once(
    app: Lodestar, board: Chat
) -> None:
    board.session.run_jobs = lambda at=None, watch=False: None  # type: ignore[method-assign]
    board.say("/feedback ship #1")
    messenger = FlakyMessenger(gone="bo")
    report = asyncio.run(app.dispatcher({"console": messenger}).run_once())
    assert (report.sent, report.failed, report.retried) == (6, 1, 0)
    app.clock.advance(hours=3)
    asyncio.run(app.dispatcher({"console": messenger}).run_once())
    assert sorted(messenger.dms) == ["ana", "cy", "dee", "eli"]
    with app.db.uow() as uow:
        assert uow.outbox.counts() == {"sent": 6, "failed": 1}


def test_a_process_without_the_platform_leaves_its_notices_alone(
    app: Lodestar, board: Chat
) -> None:
    board.session.run_jobs = lambda at=None, watch=False: None  # type: ignore[method-assign]
    board.say("/feedback ship #1")
    elsewhere = FlakyMessenger()
    elsewhere.platform = "slack"
    report = asyncio.run(app.dispatcher({"slack": elsewhere}).run_once())
    assert (report.sent, report.skipped, elsewhere.dms) == (0, 0, [])
    console = FlakyMessenger()
    asyncio.run(app.dispatcher({"console": console}).run_once())
    assert sorted(console.dms) == ["ana", "bo", "cy", "dee", "eli"]


def test_notices_for_another_platform_never_hold_up_this_ones(app: Lodestar, board: Chat) -> None:
    board.session.run_jobs = lambda at=None, watch=False: None  # type: ignore[method-assign]
    board.say("/feedback ship #1")  # 5 DMs, 1 thread reply, 1 announcement, all console
    messenger = FlakyMessenger()
    elsewhere = FlakyMessenger()
    elsewhere.platform = "slack"
    # The slack process leaves every console notice be, claiming none of them.
    asyncio.run(app.dispatcher({"slack": elsewhere}).run_once())
    asyncio.run(app.dispatcher({"console": messenger}).run_once())
    assert len(messenger.dms) == 5 and len(messenger.posts) == 2


def test_a_notice_queued_before_its_person_connects_still_arrives_once(app: Lodestar) -> None:
    chat = Chat(app)
    chat.session.run_jobs = lambda at=None, watch=False: None  # type: ignore[method-assign]
    chat.as_("ana").say("/feedback offline mode")
    chat.as_("bob").say("/feedback vote #1")
    chat.as_("pm", admin=True).say("/feedback ship #1")
    code = chat.as_("bo").reply("/feedback connect")["code"]
    chat.as_("bob").say(f"/feedback connect {code}")  # bob is now part of bo
    messenger = FlakyMessenger()
    asyncio.run(app.dispatcher({"console": messenger}).run_once())
    # One DM for bo/bob, the same person now, through either identity.
    assert len(messenger.dms) == 2 and "ana" in messenger.dms
    with app.db.uow() as uow:
        assert uow.outbox.counts() == {"sent": 2}


class HeldMessenger(FlakyMessenger):
    """Holds the first DM until released: the others wait in the lane, claimed."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.holding = False

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        if not self.dms and not self.holding:
            self.holding = True
            await self.release.wait()
        await super().send_direct(to, reply)


def test_two_identities_connected_while_their_notices_wait_in_a_lane_hear_once(
    app: Lodestar,
) -> None:
    chat = Chat(app)
    chat.session.run_jobs = lambda at=None, watch=False: None  # type: ignore[method-assign]
    chat.as_("ana").say("/feedback offline mode")
    chat.as_("bo").say("/feedback vote #1")
    chat.as_("bob").say("/feedback vote #1")
    chat.as_("pm", admin=True).say("/feedback ship #1")
    messenger = HeldMessenger()
    dispatcher = app.dispatcher({"console": messenger}, concurrency=1)

    async def scenario() -> None:
        running = asyncio.create_task(dispatcher.run_once())
        while not messenger.holding:  # ana's DM is out; bo's and bob's wait, claimed
            await asyncio.sleep(0.01)
        code = chat.as_("bo").reply("/feedback connect")["code"]
        chat.as_("bob").say(f"/feedback connect {code}")  # bo and bob: one person now
        messenger.release.set()
        await running

    asyncio.run(scenario())
    assert len(messenger.dms) == 2 and "ana" in messenger.dms
