"""The clock: ``lodestar scheduler`` (the Procfile's ``clock`` process) and the
scheduling part of ``lodestar run``.

Only wiring lives here. Every ``tick`` seconds APScheduler calls ``Scheduler.tick``:
the core queues whatever is due at that instant (``Lodestar.run_jobs``: digests,
weekly charts, alert rules); beside it, ``Dispatcher.serve`` delivers the outbox
through the platforms' messengers, each workspace at its own pace. What is due is
worked out from the clock every time, so a tick missed while the process was down
is simply the next tick's work; and since every post is claimed by its key in the
database, two schedulers, or one restarted mid-way, post each thing once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
from collections.abc import Mapping
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import Lodestar
from bot.clock import Clock
from bot.notify.dispatcher import DEFAULT_RATES, DispatchReport
from bot.notify.ports import Messenger

log = logging.getLogger(__name__)

#: Seconds between two ticks: the finest a scheduled time can be kept to.
TICK = 30.0
PLATFORMS = (*DEFAULT_RATES, "console")


class StartupError(RuntimeError):
    """A setting the process cannot start with: one line for the operator."""


#: The slowest and fastest send rates an operator may set, notices per second.
RATES = (0.1, 1000.0)


def rates_from_env() -> dict[str, float]:
    """``LODESTAR_SEND_RATES=slack=20,discord=20``: notices per second per workspace, for
    a plan whose limits differ from the defaults."""
    out: dict[str, float] = {}
    for part in filter(str.strip, os.environ.get("LODESTAR_SEND_RATES", "").split(",")):
        platform, _, text = (x.strip() for x in part.partition("="))
        try:
            rate = float(text)
        except ValueError:
            rate = math.nan
        if platform not in PLATFORMS or not RATES[0] <= rate <= RATES[1]:
            raise StartupError(
                f"LODESTAR_SEND_RATES: {part.strip()!r} is not platform=rate with a platform "
                f"among {', '.join(PLATFORMS)} and a rate from {RATES[0]:g} to {RATES[1]:g} "
                "notices a second, e.g. slack=10,discord=20."
            )
        out[platform] = rate
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
        rates: Mapping[str, float] | None = None,
    ) -> None:
        self.lodestar = lodestar
        self.clock = clock or lodestar.clock
        self.tick_every = tick
        self.until = until
        rates = rates_from_env() if rates is None else rates
        self.dispatcher = lodestar.dispatcher(messengers, self.clock, rates=rates)
        #: What this process delivered since it started.
        self.delivered = DispatchReport()
        self.finished = asyncio.Event()
        self._aps: AsyncIOScheduler | None = None
        self._delivering: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        """Queue what is due now. Delivery runs beside the ticks (``Dispatcher.serve``),
        so a long ship fans out in its lanes while later ticks keep the schedule."""
        now = self.clock.now()
        if self.until is not None:  # a test's last tick is at ``until``, however fast its clock
            now = min(now, self.until)
        try:
            report = await asyncio.to_thread(self.lodestar.run_jobs, now)
            if report.queued or report.alerts:
                log.info("due at %s: %s, %d alert posts", now, dict(report.queued), report.alerts)
        except Exception:  # one bad tick must not stop the clock, nor delivery
            log.exception("scheduled posts at %s", now)
        if self.until is not None and now >= self.until:
            await self.dispatcher.run_once()
            await self.dispatcher.settled()
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
        self._delivering = asyncio.create_task(self.dispatcher.serve(self.delivered))
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
        if self._delivering is not None:
            self._delivering.cancel()
            self._delivering = None
            self.dispatcher.retire()


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
        import aiohttp
        import discord

        from adapters.discord.messenger import DiscordMessenger

        api = os.environ.get("DISCORD_API_URL")
        if api:
            discord.http.Route.BASE = api.rstrip("/")
        client = discord.Client(intents=discord.Intents.none())
        try:
            await client.login(token)
        except discord.LoginFailure as error:
            raise StartupError(f"Discord refused DISCORD_TOKEN ({error}).") from error
        except (OSError, aiohttp.ClientError, discord.HTTPException) as error:
            # Discord out of reach: deliver the rest, and log in at the first Discord send.
            log.warning("Discord is out of reach (%s): logging in at the first send", error)
        out["discord"] = DiscordMessenger(client, token)
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
    rates = rates_from_env()  # a bad setting stops start-up before anything else
    messengers = await platform_messengers(lodestar)
    scheduler = Scheduler(lodestar, messengers, clock=clock, tick=tick, until=until, rates=rates)
    scheduler.start()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # PID 1 in a container ignores SIGTERM
        with contextlib.suppress(NotImplementedError, RuntimeError):  # otherwise
            loop.add_signal_handler(signum, scheduler.finished.set)
    try:
        await scheduler.finished.wait()
    finally:
        scheduler.stop()
        for messenger in messengers.values():
            close = getattr(messenger, "close", None)
            if close is not None:
                await close()


def until_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = [
    "TICK",
    "ScaledClock",
    "Scheduler",
    "StartupError",
    "run_scheduler",
    "simulated_clock",
    "until_of",
]
