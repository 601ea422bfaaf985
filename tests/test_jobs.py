"""The scheduler's jobs with an injected clock: digests at the workspace's local time
across DST, the weekly chart once a week, missed slots, each post exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import Lodestar
from bot.clock import FixedClock
from bot.context import Caller
from bot.notify.ports import ChannelPost, Recipient
from bot.nsm.config import parse_config
from bot.replies import Reply
from storage.uow import Database
from tests.test_nsm_service import CONFIG

PM = Caller("console", "acme", "pm", "pm", channel="general", is_platform_admin=True)


class Platform:
    """Records every post with the instant (the injected clock's) it was made."""

    platform = "console"

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.posts: list[tuple[str, str, datetime, Reply]] = []

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        self.posts.append((to.job, to.user, self.clock.now(), reply))

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> None:
        self.posts.append((to.job, to.channel, self.clock.now(), reply))

    def of(self, job: str) -> list[tuple[str, datetime, Reply]]:
        return [(where, at, reply) for j, where, at, reply in self.posts if j == job]


def app_at(database: Database, start: datetime, config: str = CONFIG) -> Lodestar:
    app = Lodestar.build(database, FixedClock(start), parse_config(config))
    for n, week in enumerate(range(40, 53)):
        for metric, value in (("wat", 200 + n), ("accounts", 100 + n), ("teams_per_account", 2)):
            app.router.command(PM, "nsm", f"record {metric} {value} 2025-W{week:02d}")
    return app


def tick_through(app: Lodestar, platform: Platform, until: datetime, step: timedelta) -> None:
    """A scheduler ticking every ``step``: queue what is due, deliver it."""
    clock = app.clock
    assert isinstance(clock, FixedClock)
    dispatcher = app.dispatcher({"console": platform})
    while clock.now() < until:
        clock.advance(seconds=step.total_seconds())
        app.run_jobs(clock.now())
        asyncio.run(dispatcher.run_once())


def test_the_digest_comes_at_nine_in_new_york_in_spring(database: Database) -> None:
    start = datetime(2026, 3, 5, 12, tzinfo=UTC)  # 07:00 in New York
    app = app_at(database, start)
    reply = app.router.command(PM, "nsm", "digest #metrics 09:00 America/New_York")[0]
    assert reply.text == (
        "The daily digest will be posted every day at 09:00 America/New_York in metrics."
    )
    platform = Platform(app.clock)  # type: ignore[arg-type]
    tick_through(app, platform, start + timedelta(days=5), timedelta(minutes=10))
    digests = platform.of("digest")
    assert [at.date().isoformat() for _, at, _ in digests] == [
        "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"
    ]  # fmt: skip
    assert [at.hour for _, at, _ in digests] == [14, 14, 14, 13, 13]  # EST, then EDT: 09:00
    text, attachments = digests[0][2].text, digests[0][2].attachments
    assert text.startswith("☀️ Daily digest") and attachments[0].filename == "north-star.png"


def test_the_digest_comes_at_nine_in_new_york_in_autumn_too(database: Database) -> None:
    start = datetime(2026, 10, 29, 12, tzinfo=UTC)
    app = app_at(database, start)
    app.router.command(PM, "nsm", "digest #metrics 09:00 America/New_York")
    platform = Platform(app.clock)  # type: ignore[arg-type]
    tick_through(app, platform, start + timedelta(days=5), timedelta(minutes=10))
    hours = [at.hour for _, at, _ in platform.of("digest")]
    assert hours == [13, 13, 13, 14, 14]  # Oct 29–31 EDT, Nov 1–2 EST: 09:00 local each day


def test_the_weekly_chart_comes_once_a_week_about_the_week_that_closed(
    database: Database,
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    app = app_at(database, start)
    app.router.command(PM, "nsm", "chart weekly #metrics monday 09:00 Europe/Paris")
    platform = Platform(app.clock)  # type: ignore[arg-type]
    tick_through(app, platform, start + timedelta(days=21), timedelta(hours=1))
    charts = platform.of("weekly_chart")
    assert [at.strftime("%a %H:%M") for _, at, _ in charts] == ["Mon 08:00"] * 3
    assert [r.text.split(": the week ")[1][:8] for _, _, r in charts] == [
        "2026-W01",
        "2026-W02",
        "2026-W03",
    ]
    assert all(r.attachments[0].filename == "north-star.png" for _, _, r in charts)


def test_a_scheduler_back_late_posts_that_days_digest_never_yesterdays(
    database: Database,
) -> None:
    start = datetime(2026, 12, 1, 6, tzinfo=UTC)
    app = app_at(database, start)
    app.router.command(PM, "nsm", "digest #metrics 09:00")
    platform = Platform(app.clock)  # type: ignore[arg-type]
    dispatcher = app.dispatcher({"console": platform})
    clock = app.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2026, 12, 1, 15, tzinfo=UTC))  # down from 06:00 to 15:00
    app.run_jobs(clock.now())
    asyncio.run(dispatcher.run_once())
    clock.set(datetime(2026, 12, 3, 8, tzinfo=UTC))  # down all of the 2nd: that one is gone
    app.run_jobs(clock.now())
    asyncio.run(dispatcher.run_once())
    clock.set(datetime(2026, 12, 3, 9, 30, tzinfo=UTC))
    for _ in range(3):  # ticking on: the 3rd's digest, once
        app.run_jobs(clock.now())
        asyncio.run(dispatcher.run_once())
    assert [at.isoformat() for _, at, _ in platform.of("digest")] == [
        "2026-12-01T15:00:00+00:00",
        "2026-12-03T09:30:00+00:00",
    ]


def test_two_schedulers_at_once_post_each_digest_once(database: Database) -> None:
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    app = app_at(database, start)
    other = Lodestar.build(database, app.clock, parse_config(CONFIG))
    app.router.command(PM, "nsm", "digest #metrics 09:00")
    platform = Platform(app.clock)  # type: ignore[arg-type]
    first = app.dispatcher({"console": platform})
    second = other.dispatcher({"console": platform}, owner="other:2:b")
    clock = app.clock
    assert isinstance(clock, FixedClock)
    for _ in range(12):
        clock.advance(minutes=10)
        app.run_jobs(clock.now())
        other.run_jobs(clock.now())

        async def both() -> None:
            await asyncio.gather(first.run_once(), second.run_once())

        asyncio.run(both())
    assert len(platform.of("digest")) == 1


def test_config_schedules_every_workspace_and_a_workspace_can_turn_it_off(
    database: Database,
) -> None:
    config = CONFIG.replace(
        '[digest]\nchannel = "metrics"', '[digest]\nchannel = "metrics"\ntime = "09:00"'
    )
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    app = app_at(database, start, config)
    quiet = Caller("console", "quiet", "ops", "ops", is_platform_admin=True)
    assert app.router.command(quiet, "nsm", "digest off")[0].text == (
        "The daily digest is off for this workspace."
    )
    assert app.router.command(quiet, "nsm", "schedule")[0].text.startswith("The daily digest: off.")
    platform = Platform(app.clock)  # type: ignore[arg-type]
    tick_through(app, platform, start + timedelta(hours=2), timedelta(minutes=15))
    assert Counter(where for where, _, _ in platform.of("digest")) == Counter({"metrics": 1})


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("digest #metrics 25:00", "“25:00” is not a time of day: write it like 09:00 or 17:30."),
        ("digest #metrics 09:00 Mars/Base", "“Mars/Base” is not a time zone"),
        ("digest metrics", "Write it like /nsm digest <channel> <HH:MM> [zone]"),
        ("chart weekly #m funday 09:00", "“funday” is not a day of the week"),
        ("digest <!channel> 09:00", "is not a channel"),
    ],
)
def test_bad_schedules_get_a_sentence_and_change_nothing(
    database: Database, line: str, answer: str
) -> None:
    app = app_at(database, datetime(2026, 12, 1, tzinfo=UTC))
    reply = app.router.command(PM, "nsm", line)[0]
    assert reply.kind == "error" and answer in reply.text, reply.text
    assert "<!channel>" not in reply.text
    assert app.router.command(PM, "nsm", "schedule")[0].text.startswith("The daily digest: off.")


def test_only_admins_schedule_posts(database: Database) -> None:
    app = app_at(database, datetime(2026, 12, 1, tzinfo=UTC))
    ana = Caller("console", "acme", "ana", "ana")
    assert app.router.command(ana, "nsm", "digest #metrics 09:00")[0].text == (
        "Only board admins can schedule posts."
    )


def test_a_workspace_whose_schedule_fails_holds_up_no_other(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A schedule stored with a zone this host cannot load (set on a host whose own zone
    files had it) fails that workspace's turn only: the others' posts are queued, and the
    alert rules still run."""
    start = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)
    app = app_at(database, start)
    other = Caller("console", "other", "ops", "ops", channel="general", is_platform_admin=True)
    app.router.command(PM, "nsm", "digest #metrics 09:00 UTC")
    app.router.command(other, "nsm", "digest #m2 09:00 UTC")
    with app.db.uow() as uow:
        acme = next(w for w in uow.workspaces.all() if w.external_id == "acme")
        uow.workspaces.set_setting(
            acme.id, "schedule:digest", {"channel": "metrics", "at": "09:00", "zone": "right/UTC"}
        )
        uow.commit()
    report = app.run_jobs(start)
    assert report.queued == Counter({"digest": 1}) and report.failures == 1
    assert "scheduled posts of workspace" in caplog.text
    platform = Platform(app.clock)  # type: ignore[arg-type]
    asyncio.run(app.dispatcher({"console": platform}).run_once())
    assert [where for where, _, _ in platform.of("digest")] == ["m2"]


def test_a_failing_turn_of_the_jobs_does_not_stop_delivery(database: Database) -> None:
    """The scheduler delivers the outbox even when queuing what is due failed."""
    from adapters.scheduler import Scheduler

    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    app = app_at(database, start)
    app.router.command(PM, "feedback", "dark mode")
    app.router.command(PM, "feedback", "ship #1")
    platform = Platform(app.clock)  # type: ignore[arg-type]
    scheduler = Scheduler(app, {"console": platform}, tick=3600)

    def broken(now: datetime | None = None) -> None:
        raise RuntimeError("the jobs broke")

    app.run_jobs = broken  # type: ignore[method-assign]

    async def tick() -> None:
        scheduler.start()  # ticks at once, and the ticks fail
        try:
            for _ in range(100):
                if platform.of("ship_notice"):
                    break
                await asyncio.sleep(0.05)
            await scheduler.dispatcher.settled()
        finally:
            scheduler.stop()

    asyncio.run(tick())
    assert [who for who, _, _ in platform.of("ship_notice")] == ["pm"]


class HeldForAna(Platform):
    """Holds ana's DM until released (a long 429 wait, say); the rest go through."""

    def __init__(self, clock: FixedClock) -> None:
        super().__init__(clock)
        self.release = asyncio.Event()

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        if to.user == "ana":
            await self.release.wait()
        await super().send_direct(to, reply)


def test_a_ship_whose_notices_wait_never_holds_up_the_schedule(database: Database) -> None:
    """Delivery runs beside the ticks: while one DM waits, a later tick still queues
    the digest, and it goes out ahead of the DMs still waiting."""
    from adapters.scheduler import Scheduler

    start = datetime(2026, 12, 1, 8, 59, tzinfo=UTC)
    app = app_at(database, start)
    app.router.command(PM, "nsm", "digest #metrics 09:00 UTC")
    ana = Caller("console", "acme", "ana", "ana", channel="general")
    app.router.command(ana, "feedback", "dark mode")
    for who in ("bo", "cy", "dee"):
        app.router.command(Caller("console", "acme", who, who), "feedback", "vote #1")
    app.router.command(PM, "feedback", "ship #1")
    platform = HeldForAna(app.clock)  # type: ignore[arg-type]
    scheduler = Scheduler(app, {"console": platform}, tick=3600)

    async def scenario() -> None:
        scheduler.start()  # the first tick, and delivery beside it
        try:
            for _ in range(500):  # until all but ana's, which waits, went out
                if len(platform.of("ship_notice")) == 3:
                    break
                await asyncio.sleep(0.01)
            app.clock.advance(minutes=2)
            await asyncio.wait_for(scheduler.tick(), 5)
            for _ in range(100):
                if platform.of("digest"):
                    break
                await asyncio.sleep(0.01)
            assert [where for where, _, _ in platform.of("digest")] == ["metrics"]
            assert "ana" not in [who for who, _, _ in platform.of("ship_notice")]
            platform.release.set()
            await scheduler.dispatcher.settled()
        finally:
            scheduler.stop()

    asyncio.run(scenario())
    assert sorted(who for who, _, _ in platform.of("ship_notice")) == ["ana", "bo", "cy", "dee"]


def test_the_alert_channel_says_it_is_not_where_digests_go(database: Database) -> None:
    app = app_at(database, datetime(2026, 12, 1, tzinfo=UTC))
    app.router.command(PM, "nsm", "digest #metrics 09:00 UTC")
    for line in ("channel off", "channel #other"):
        text = app.router.command(PM, "nsm", line)[0].text
        assert "digest" not in text.split(".")[0], text
        assert "/nsm schedule" in text
    assert "in metrics" in app.router.command(PM, "nsm", "schedule")[0].text


def test_the_digest_is_headed_with_the_readers_own_day_and_time(database: Database) -> None:
    """Sydney's Monday 09:00 digest is Sunday 22:00 in UTC: it says Monday, 09:00."""
    start = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)  # Monday 08:00 in Sydney (AEDT)
    app = app_at(database, start)
    app.router.command(PM, "nsm", "digest #metrics 09:00 Australia/Sydney")
    platform = Platform(app.clock)  # type: ignore[arg-type]
    tick_through(app, platform, start + timedelta(hours=2), timedelta(minutes=10))
    ((_, at, reply),) = platform.of("digest")
    assert at == datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    assert reply.text.startswith("☀️ Daily digest, Monday 02 March 2026 (24 hours to 09:00 AEDT)")


def test_without_a_metric_tree_no_schedule_is_promised(database: Database) -> None:
    app = Lodestar.build(database, FixedClock(datetime(2026, 12, 1, tzinfo=UTC)))
    reply = app.router.command(PM, "nsm", "digest #metrics 09:00 UTC")[0]
    assert reply.kind == "error" and reply.text.startswith("No metric tree is configured yet")
    assert app.run_jobs().queued == Counter()


def test_a_schedule_set_in_chat_keeps_the_files_grace(database: Database) -> None:
    config = CONFIG.replace(
        '[digest]\nchannel = "metrics"',
        '[digest]\nchannel = "metrics"\ntime = "09:00"\ngrace = "1h"',
    )
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    app = app_at(database, start, config)
    app.router.command(PM, "nsm", "digest #other 09:30 UTC")
    assert app.run_jobs(datetime(2026, 12, 1, 10, 45, tzinfo=UTC)).queued == Counter()
    assert app.run_jobs(datetime(2026, 12, 1, 10, 15, tzinfo=UTC)).queued == Counter(digest=1)


def test_the_scheduler_delivers_a_ship_bigger_than_a_lane_between_its_ticks(
    database: Database,
) -> None:
    """Delivery runs beside the ticks: a ship of more DMs than a lane takes at once
    goes out in full long before the next tick (an hour away here)."""
    from adapters.scheduler import Scheduler
    from bot.notify.dispatcher import LANE_AHEAD
    from tests.test_dispatch import crowd_behind_item_1

    app = Lodestar.build(database, FixedClock(datetime(2026, 12, 1, 9, tzinfo=UTC)))
    crowd_behind_item_1(app, 2 * LANE_AHEAD)
    app.router.command(PM, "feedback", "ship #1")
    platform = Platform(app.clock)  # type: ignore[arg-type]
    scheduler = Scheduler(app, {"console": platform}, tick=3600)

    async def scenario() -> int:
        scheduler.start()
        try:
            for _ in range(400):
                if len(platform.of("ship_notice")) > 2 * LANE_AHEAD:
                    break
                await asyncio.sleep(0.05)
            await scheduler.dispatcher.settled()
        finally:
            scheduler.stop()
        return len(platform.of("ship_notice"))

    assert asyncio.run(scenario()) == 2 * LANE_AHEAD + 1
    with app.db.uow() as uow:
        assert uow.outbox.counts() == {"sent": 2 * LANE_AHEAD + 1}
