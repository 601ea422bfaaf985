"""The clock: ``lodestar scheduler`` (the Procfile's ``clock`` process) and the
scheduling part of ``lodestar run``.

Only wiring lives here. Every ``tick`` seconds APScheduler calls ``Scheduler.tick``:
the core queues whatever is due at that instant (``Lodestar.run_jobs``: digests,
weekly charts, alert rules) and the outbox is delivered through the platforms'
messengers, each at its own pace. What is due is worked out from the clock every
time, so a tick missed while the process was down is simply the next tick's work;
and since every post is claimed by its key in the database, two schedulers, or one
restarted mid-way, post each thing once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import Lodestar
from bot.clock import Clock
from bot.notify.ports import Messenger

log = logging.getLogger(__name__)

#: Seconds between two ticks: the finest a scheduled time can be kept to.
TICK = 30.0


def rates_from_env() -> dict[str, float]:
    """``LODESTAR_SEND_RATES=slack=20,discord=20``: notices per second per workspace, for
    a plan whose limits differ from the defaults."""
    out: dict[str, float] = {}
    for part in os.environ.get("LODESTAR_SEND_RATES", "").split(","):
        platform, _, rate = part.partition("=")
        try:
            if platform.strip() and float(rate) > 0:
                out[platform.strip()] = float(rate)
        except ValueError:
            log.warning("LODESTAR_SEND_RATES: %r is not platform=number; ignored", part)
    return out


class ScaledClock:
    """A clock that runs ``speed`` times faster than the wall, from ``start``: a week
    of schedule in a few seconds, for tests of whole processes."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed = start, speed
        self._wall = datetime.now(UTC)

    def now(self) -> datetime:
        return self.start + (datetime.now(UTC) - self._wall) * self.speed


class Scheduler:
    def __init__(
        self,
        lodestar: Lodestar,
        messengers: Mapping[str, Messenger],
        *,
        clock: Clock | None = None,
        tick: float = TICK,
        until: datetime | None = None,
    ) -> None:
        self.lodestar = lodestar
        self.clock = clock or lodestar.clock
        self.tick_every = tick
        self.until = until
        self.dispatcher = lodestar.dispatcher(messengers, self.clock, rates=rates_from_env())
        self.finished = asyncio.Event()
        self._aps: AsyncIOScheduler | None = None

    async def tick(self) -> None:
        """Queue what is due now, then deliver the outbox."""
        now = self.clock.now()
        try:
            report = await asyncio.to_thread(self.lodestar.run_jobs, now)
            if report.queued or report.alerts:
                log.info("due at %s: %s, %d alert posts", now, dict(report.queued), report.alerts)
        except Exception:  # one bad tick must not stop the clock, nor delivery
            log.exception("scheduled posts at %s", now)
        try:
            await self.dispatcher.run_once()
        except Exception:
            log.exception("outbox delivery at %s", now)
        if self.until is not None and now >= self.until:
            self.finished.set()

    def start(self) -> None:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick is noise
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._aps.add_job(
            self.tick,
            "interval",
            seconds=self.tick_every,
            next_run_time=datetime.now(UTC),
            coalesce=True,  # ticks missed while busy are one tick, not a burst
            max_instances=1,
            misfire_grace_time=None,
        )
        self._aps.start()
        log.info(
            "scheduler %s ticking every %g s (pid %d)",
            self.dispatcher.owner,
            self.tick_every,
            os.getpid(),
        )

    def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None


async def platform_messengers(lodestar: Lodestar) -> dict[str, Messenger]:
    """Messengers for the platforms whose tokens are set, for a process that serves
    no chat itself (``lodestar scheduler``): Slack through its Web API, Discord
    through its REST API (no gateway connection)."""
    out: dict[str, Messenger] = {}
    from adapters.slack.settings import SlackSettings

    slack = SlackSettings()
    if slack.bot_token or slack.oauth:
        from adapters.slack.messenger import standalone_messenger

        out["slack"] = standalone_messenger(slack, lodestar.db.engine)
    token = os.environ.get("DISCORD_TOKEN")
    if token:
        import discord

        from adapters.discord.messenger import DiscordMessenger

        api = os.environ.get("DISCORD_API_URL")
        if api:
            discord.http.Route.BASE = api.rstrip("/")
        client = discord.Client(intents=discord.Intents.none())
        await client.login(token)
        out["discord"] = DiscordMessenger(client)
    if not out:
        log.warning("no SLACK_BOT_TOKEN or DISCORD_TOKEN: posts are queued but not delivered")
    return out


def simulated_clock(start: str | None, speed: float) -> Clock | None:
    """``--clock-start`` and ``--clock-speed``: a clock for whole-process tests."""
    if start is None:
        return None
    moment = datetime.fromisoformat(start)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ScaledClock(moment, speed)


async def run_scheduler(
    lodestar: Lodestar,
    *,
    tick: float = TICK,
    clock: Clock | None = None,
    until: datetime | None = None,
) -> None:
    """``lodestar scheduler``: tick until interrupted (or, in tests, until ``until``)."""
    messengers = await platform_messengers(lodestar)
    scheduler = Scheduler(lodestar, messengers, clock=clock, tick=tick, until=until)
    scheduler.start()
    try:
        await scheduler.finished.wait()
    finally:
        scheduler.stop()


def until_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["TICK", "ScaledClock", "Scheduler", "run_scheduler", "simulated_clock", "until_of"]
