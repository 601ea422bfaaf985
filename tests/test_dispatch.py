"""The outbox's delivery: each platform at its pace, each notice once, a dead
dispatcher's notices taken back at once, a notice in doubt checked before it is
sent again. The clock is injected and sleeping moves it: nothing here waits."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from bot.app import Lodestar
from bot.clock import FixedClock
from bot.context import Caller
from bot.notify.dispatcher import Dispatcher, DispatchReport
from bot.notify.ports import ChannelPost, Recipient, RetryAfter, Undeliverable
from bot.replies import Reply
from storage.models import Backer, DispatcherBeat, Identity, Item, OutboxMessage, Person, Workspace

PM = Caller("console", "acme", "pm", "pm", channel="general", is_platform_admin=True)


class LimitedPlatform:
    """A platform that takes at most ``per_second`` messages a second (by the injected
    clock) and answers the rest with a 429, like Slack or Discord would."""

    platform = "console"

    def __init__(self, clock: FixedClock, per_second: int) -> None:
        self.clock, self.per_second = clock, per_second
        self.received: Counter[str] = Counter()
        self.window: list[datetime] = []
        self.refused = 0
        self.first: datetime | None = None
        self.last: datetime | None = None

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        now = self.clock.now()
        self.window = [t for t in self.window if t > now - timedelta(seconds=1)]
        if len(self.window) >= self.per_second:
            self.refused += 1
            raise RetryAfter(1.0)
        self.window.append(now)
        self.received[to.user] += 1
        self.first = self.first or now
        self.last = now
        await asyncio.sleep(0)

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> None:
        await self.send_direct(Recipient(to.platform, to.workspace, to.channel, ""), reply)


def _simulated(clock: FixedClock) -> dict[str, Any]:
    """Pacing on the test's clock: sleeping moves it."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)
        await asyncio.sleep(0)  # what was started meanwhile runs at its time

    return {"sleep": sleep, "seconds": lambda: clock.now().timestamp()}


def crowd_behind_item_1(app: Lodestar, people: int) -> None:
    """Item #1 with ``people`` more backers, written in bulk (a vote each would take
    minutes); demand stays the exact count."""
    app.board.capture(Caller("console", "acme", "ana", "ana", channel="general"), "dark mode")
    now = app.clock.now()
    with app.db.uow() as uow:
        workspace = uow.session.scalar(select(Workspace).where(Workspace.external_id == "acme"))
        item = uow.session.scalar(select(Item).where(Item.board_id == workspace.board_id))
        ids = list(
            uow.session.scalars(
                insert(Person).returning(Person.id),
                [
                    {"display_name": f"p{n}", "muted": False, "created_at": now}
                    for n in range(people)
                ],
            )
        )
        uow.session.execute(
            insert(Identity),
            [
                {
                    "person_id": i,
                    "workspace_id": workspace.id,
                    "external_id": f"p{i}",
                    "display_name": f"p{i}",
                }
                for i in ids
            ],
        )
        uow.session.execute(
            insert(Backer),
            [
                {"head_id": item.id, "person_id": i, "board_id": workspace.board_id, "weight": 1}
                for i in ids
            ],
        )
        uow.session.execute(update(Item).where(Item.id == item.id).values(demand=people + 1))
        uow.commit()


def test_five_thousand_dms_under_a_per_second_limit_reach_everyone_once(app: Lodestar) -> None:
    crowd_behind_item_1(app, 5000)
    shipped = app.router.command(PM, "feedback", "ship #1 live")[0]
    assert shipped.data["queued"]["people"] == 5001
    clock = app.clock
    platform = LimitedPlatform(clock, per_second=50)
    start = clock.now()
    dispatcher = Dispatcher(
        app.db, {"console": platform}, clock, rates={"console": 50}, **_simulated(clock)
    )
    report = asyncio.run(dispatcher.run_once())
    assert report.sent == 5001 and report.failed == 0
    assert len(platform.received) == 5001 and set(platform.received.values()) == {1}
    took = (clock.now() - start).total_seconds()
    assert 5001 / took >= 0.95 * 50  # the pace keeps to the limit, and uses it
    assert platform.refused == 0  # never over it


def test_a_platform_429_waits_and_loses_nothing(app: Lodestar) -> None:
    crowd_behind_item_1(app, 300)
    app.router.command(PM, "feedback", "ship #1")
    clock = app.clock
    platform = LimitedPlatform(clock, per_second=20)  # stricter than the pace we were given
    dispatcher = Dispatcher(
        app.db, {"console": platform}, clock, rates={"console": 50}, **_simulated(clock)
    )
    total = 0
    for _ in range(100):
        report = asyncio.run(dispatcher.run_once())
        total += report.sent
        if total == 301:
            break
        clock.advance(seconds=1)
    assert total == 301 and platform.refused > 0
    assert set(platform.received.values()) == {1}
    with app.db.uow() as uow:
        attempts = set(uow.session.scalars(select(OutboxMessage.attempts)))
    assert attempts == {1}  # waiting for the platform is not a failed attempt


class RecordingPlatform:
    platform = "console"

    def __init__(self, already: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.sent: list[str] = []
        self.already = already
        self.asked: list[str] = []

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        if to.user == "gone":
            raise Undeliverable("unknown user")
        self.sent.append(to.key)

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> None:
        self.sent.append(to.key)

    async def delivered(self, to: Recipient | ChannelPost, reply: Reply) -> bool:
        self.asked.append(to.key)
        return to.key in self.already


def _ship_to_three(app: Lodestar) -> list[OutboxMessage]:
    ana = Caller("console", "acme", "ana", "ana", channel="general")
    app.board.capture(ana, "dark mode")
    for who in ("bo", "gone"):
        app.board.vote(Caller("console", "acme", who, who), 1)
    app.router.command(PM, "feedback", "ship #1")
    with app.db.uow() as uow:
        return list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _die_while_sending(app: Lodestar, owner: str, beat_at: datetime) -> None:
    """Another dispatcher claimed every notice, then its process died."""
    with app.db.uow() as uow:
        uow.session.execute(
            update(OutboxMessage).values(
                state="sending", owner=owner, attempts=1,
                not_before=app.clock.now() + timedelta(minutes=5),
            )
        )  # fmt: skip
        uow.session.add(
            DispatcherBeat(
                owner=owner, host="elsewhere", pid=1, started_at=beat_at, beat_at=beat_at
            )
        )
        uow.commit()


def test_a_dead_dispatchers_notices_are_taken_back_at_once_and_checked(app: Lodestar) -> None:
    notices = _ship_to_three(app)
    keys = [n.dedupe_key for n in notices]
    _die_while_sending(app, "elsewhere:1:dead", beat_at=app.clock.now() - timedelta(minutes=2))
    platform = RecordingPlatform(already={keys[0]})  # the first one did land before the crash
    report = asyncio.run(Dispatcher(app.db, {"console": platform}, app.clock).run_once())
    assert (report.verified, report.sent, report.failed) == (1, 1, 1)
    assert platform.sent == [keys[1]] and sorted(platform.asked) == sorted(keys)
    with app.db.uow() as uow:
        states = Counter(uow.session.scalars(select(OutboxMessage.state)))
        errors = list(uow.session.scalars(select(OutboxMessage.last_error).where(
            OutboxMessage.state == "failed")))  # fmt: skip
    assert states == Counter({"sent": 2, "failed": 1})
    assert errors == ["undeliverable: unknown user"]


def test_a_live_dispatchers_notices_are_left_to_it(app: Lodestar) -> None:
    """Alive is a heartbeat in the last minute of wall-clock time, however far the
    business clock moves; once it stops, its notices are taken back and checked."""
    _ship_to_three(app)
    _die_while_sending(app, "elsewhere:1:alive", beat_at=datetime.now(UTC))
    platform = RecordingPlatform()
    app.clock.advance(hours=6)
    report = asyncio.run(Dispatcher(app.db, {"console": platform}, app.clock).run_once())
    assert report.sent == 0 and platform.sent == []
    later = datetime.now(UTC) + timedelta(seconds=61)  # its heartbeat stopped
    report = asyncio.run(
        Dispatcher(
            app.db, {"console": platform}, app.clock, owner="here:2:x", wall=lambda: later
        ).run_once()
    )
    assert report.sent == 2 and len(platform.asked) == 3


@pytest.mark.parametrize("muted", [True])
def test_muted_people_are_skipped_not_sent(app: Lodestar, muted: bool) -> None:
    _ship_to_three(app)
    platform = RecordingPlatform()
    app.identity.set_muted(Caller("console", "acme", "bo", "bo"), muted)
    report = asyncio.run(Dispatcher(app.db, {"console": platform}, app.clock).run_once())
    assert (report.sent, report.skipped, report.failed) == (1, 1, 1)


def test_admins_see_how_a_ships_notices_went(app: Lodestar) -> None:
    _ship_to_three(app)  # ana, bo and "gone", who cannot be reached
    asyncio.run(Dispatcher(app.db, {"console": RecordingPlatform()}, app.clock).run_once())
    shown = app.router.command(PM, "feedback", "show #1")[0]
    assert "Ship notices: notified 2 of 3; 1 could not be reached" in shown.text
    ana = Caller("console", "acme", "ana", "ana")
    assert "Ship notices" not in app.router.command(ana, "feedback", "show #1")[0].text


class GatedPlatform(RecordingPlatform):
    """Holds every DM until the gate opens: a send waiting out a long 429, say."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        self.waiting += 1
        await self.gate.wait()
        await super().send_direct(to, reply)


def test_a_send_that_waits_long_keeps_its_notices_from_a_second_dispatcher(
    app: Lodestar,
) -> None:
    """While one dispatcher's sends wait (past the time a silent dispatcher is taken
    for dead, and past the lease), it goes on beating: a second one leaves them be."""
    keys = [n.dedupe_key for n in _ship_to_three(app)]
    slow, other = GatedPlatform(), RecordingPlatform()
    first = Dispatcher(app.db, {"console": slow}, app.clock, owner="a:1:x", beat_every=0.01)
    second = Dispatcher(app.db, {"console": other}, app.clock, owner="b:2:y")

    async def scenario() -> tuple[Any, Any]:
        sending = asyncio.create_task(first.run_once())
        while slow.waiting < 3:
            await asyncio.sleep(0.01)
        app.clock.advance(minutes=6)
        await asyncio.sleep(0.1)  # the first beats meanwhile, on the wall clock
        report = await second.run_once()
        slow.gate.set()
        return report, await sending

    seconds, firsts = asyncio.run(scenario())
    assert seconds.sent == 0 and other.sent == [] and other.asked == []
    assert (firsts.sent, firsts.failed) == (2, 1)
    assert sorted(slow.sent) == sorted(keys[:2])


class PostsThenFails(RecordingPlatform):
    """Posts the DM, then answers with an error (a timeout after the platform posted)."""

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        await super().send_direct(to, reply)
        if self.sent.count(to.key) == 1:
            raise RuntimeError("internal_error")

    async def delivered(self, to: Recipient | ChannelPost, reply: Reply) -> bool:
        self.asked.append(to.key)
        return to.key in self.sent


def test_a_notice_retried_after_an_unclear_error_is_checked_before_it_is_sent_again(
    app: Lodestar,
) -> None:
    _ship_to_three(app)
    platform = PostsThenFails()
    dispatcher = Dispatcher(app.db, {"console": platform}, app.clock)
    first = asyncio.run(dispatcher.run_once())
    assert (first.sent, first.retried, first.failed) == (0, 2, 1)
    app.clock.advance(minutes=1)
    again = asyncio.run(dispatcher.run_once())
    assert (again.verified, again.sent) == (2, 0)
    assert (
        Counter(platform.sent) == Counter({k: 1 for k in platform.sent}) and len(platform.sent) == 2
    )


class CannotTell(RecordingPlatform):
    async def delivered(self, to: Recipient | ChannelPost, reply: Reply) -> bool:
        self.asked.append(to.key)
        raise RuntimeError("channel_not_found")


def test_a_check_that_fails_sends_the_notice_rather_than_lose_it(app: Lodestar) -> None:
    """In doubt, and the platform cannot say: sending again risks a repeat; retrying the
    check forever would lose the notice."""
    _ship_to_three(app)
    _die_while_sending(app, "elsewhere:1:dead", beat_at=app.clock.now() - timedelta(minutes=2))
    platform = CannotTell()
    report = asyncio.run(Dispatcher(app.db, {"console": platform}, app.clock).run_once())
    assert (report.sent, report.failed, len(platform.asked)) == (2, 1, 3)


def test_one_workspaces_long_ship_does_not_hold_up_another_workspaces_notices(
    app: Lodestar,
) -> None:
    """Each workspace has its own lane at its own pace: 50 DMs at 10 a second in one do
    not put the other's single DM five seconds back."""
    crowd_behind_item_1(app, 50)
    app.router.command(PM, "feedback", "ship #1")
    beta = Caller("console", "beta", "zed", "zed", channel="general", is_platform_admin=True)
    app.router.command(beta, "feedback", "offline mode")
    app.router.command(beta, "feedback", "ship #1")
    clock, start = app.clock, app.clock.now()
    platform = LimitedPlatform(clock, per_second=1000)
    sent_at: dict[str, float] = {}
    record = platform.send_direct

    async def timed(to: Recipient, reply: Reply) -> None:
        await record(to, reply)
        sent_at[to.user] = (clock.now() - start).total_seconds()

    platform.send_direct = timed  # type: ignore[method-assign]
    dispatcher = Dispatcher(
        app.db, {"console": platform}, clock, rates={"console": 10}, **_simulated(clock)
    )
    report = asyncio.run(dispatcher.run_once())
    assert report.sent == 52  # 51 people behind acme's #1, and zed in beta
    assert sent_at["zed"] < 0.5 and max(sent_at.values()) > 4.5


def test_unshipping_stops_the_notices_not_sent_yet_and_shipping_again_sends_only_those(
    app: Lodestar,
) -> None:
    keys = [n.dedupe_key for n in _ship_to_three(app)]  # ana, bo and "gone"
    platform = RecordingPlatform()
    first = Dispatcher(app.db, {"console": platform}, app.clock, concurrency=1)
    with app.db.uow() as uow:  # ana's went out before the admin changed their mind
        uow.session.execute(
            update(OutboxMessage).where(OutboxMessage.dedupe_key != keys[0]).values(
                not_before=app.clock.now() + timedelta(hours=1))
        )  # fmt: skip
        uow.commit()
    assert asyncio.run(first.run_once()).sent == 1
    reply = app.router.command(PM, "feedback", "status #1 planned shipped by mistake")[0]
    assert reply.text == (
        "#1 is now planned (was shipped). 2 ship notices not sent yet will not be sent; "
        "shipping it again sends them."
    )
    app.clock.advance(hours=2)
    assert asyncio.run(first.run_once()).sent == 0 and platform.sent == [keys[0]]
    again = app.router.command(PM, "feedback", "ship #1 for real")[0]
    assert again.data["queued"]["people"] == 2
    report = asyncio.run(first.run_once())
    assert (report.sent, report.failed) == (1, 1)  # bo; "gone" cannot be reached
    assert sorted(platform.sent) == sorted(keys[:2])  # ana once, bo once


def test_a_big_ship_is_taken_a_slice_at_a_time_and_a_post_behind_it_goes_first(
    app: Lodestar,
) -> None:
    """A feed claims at most a lane's worth of one board's DMs (bounded work, however big
    the ship), and a channel post queued after them is taken at once, ahead of them."""
    from bot.notify.dispatcher import LANE_AHEAD

    crowd_behind_item_1(app, 2000)
    app.router.command(PM, "feedback", "ship #1")
    app.router.command(PM, "feedback", "announce #launches")
    app.router.command(PM, "feedback", "offline mode")
    app.router.command(PM, "feedback", "ship #2")  # its announcement is queued after 2,001 DMs
    platform = RecordingPlatform()
    dispatcher = Dispatcher(app.db, {"console": platform}, app.clock)

    async def first_feed() -> list[str]:
        await dispatcher.feed(DispatchReport())
        keys = [
            e.message.dedupe_key for lane in dispatcher._lanes.values() for *_, e in lane.waiting
        ]
        for lane in dispatcher._lanes.values():
            assert lane.task is not None
            lane.task.cancel()
        return keys

    taken = asyncio.run(first_feed())
    dms = [k for k in taken if ":person:" in k]
    assert len(dms) == LANE_AHEAD
    assert any(k.startswith("ship:") and ":announce:" in k for k in taken)


class CountingRoutes(RecordingPlatform):
    platform = "slack"  # the notices are all the console's


def test_notices_for_a_platform_this_process_does_not_serve_are_not_looked_at_each_time(
    app: Lodestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    crowd_behind_item_1(app, 300)
    app.router.command(PM, "feedback", "ship #1")
    dispatcher = Dispatcher(app.db, {"slack": CountingRoutes()}, app.clock)
    looked: list[int] = []
    target = dispatcher._target
    monkeypatch.setattr(dispatcher, "_target", lambda uow, m: looked.append(m.id) or target(uow, m))
    for _ in range(6):  # a lane's worth at a time, each looked at once
        asyncio.run(dispatcher.run_once())
    assert len(looked) == len(set(looked)) == 301
    with app.db.uow() as uow:
        assert set(uow.session.scalars(select(OutboxMessage.state))) == {"queued"}


def test_a_database_failure_after_a_send_gives_the_notice_back_to_be_checked(
    app: Lodestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform took it, then recording "sent" failed: the notice is not left
    *sending* for the life of the process; it is given back, found delivered, not resent."""
    from storage.repositories import OutboxRepository

    keys = [n.dedupe_key for n in _ship_to_three(app)]

    class Remembers(RecordingPlatform):
        async def delivered(self, to: Recipient | ChannelPost, reply: Reply) -> bool:
            return to.key in self.sent

    platform = Remembers()
    finish = OutboxRepository.finish
    broken = {"left": 1}

    def fails_once(self: OutboxRepository, *args: Any, **kwargs: Any) -> None:
        if args[1] == "sent" and broken["left"]:
            broken["left"] -= 1
            raise RuntimeError("the database went away")
        return finish(self, *args, **kwargs)

    monkeypatch.setattr(OutboxRepository, "finish", fails_once)
    dispatcher = Dispatcher(app.db, {"console": platform}, app.clock)
    asyncio.run(dispatcher.run_once())
    asyncio.run(dispatcher.run_once())
    with app.db.uow() as uow:
        states = Counter(uow.session.scalars(select(OutboxMessage.state)))
    assert states == Counter({"sent": 2, "failed": 1})
    assert Counter(platform.sent) == Counter({keys[0]: 1, keys[1]: 1})


def test_muting_stops_a_dm_already_waiting_in_its_lane(app: Lodestar) -> None:
    _ship_to_three(app)
    platform = GatedPlatform()
    dispatcher = Dispatcher(app.db, {"console": platform}, app.clock, concurrency=1)

    async def scenario() -> DispatchReport:
        running = asyncio.create_task(dispatcher.run_once())
        while platform.waiting < 1:  # ana's DM is being sent; bo's waits its turn
            await asyncio.sleep(0.01)
        app.identity.set_muted(Caller("console", "acme", "bo", "bo"), True)
        platform.gate.set()
        return await running

    report = asyncio.run(scenario())
    assert report.skipped == 1 and len(platform.sent) == 1  # ana; bo muted; "gone" failed
