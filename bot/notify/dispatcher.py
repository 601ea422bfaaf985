"""Delivers the outbox through the adapters' messengers, each platform at its pace.

A notice's life: *queued* (written in the transaction that caused it, or claimed
by a scheduled post's key) → *claimed* (taken into one dispatcher's lane, with its
name) → *sending* (one more attempt, in a commit of its own, just before the send)
→ *sent* (in a commit of its own, right after
the platform answered), or *failed* (with attempts and the last error), or
*skipped* (muted, or cancelled by an un-ship). A second dispatcher never takes a
notice another one holds. Channel posts are taken all at once; DMs a board at a time,
``LANE_AHEAD`` ahead, so the work of one look is bounded however big a ship is.

Each (platform, workspace) has a lane: its notices in order, scheduled and channel
posts ahead of DMs, at that workspace's pace; lanes run side by side, so one
workspace's 5,000-person ship never holds up another's digest. Feeding the lanes
returns at once, so a scheduler's tick is never held up by a long fan-out.

What "exactly once" can promise. Between the platform's answer and our commit of
*sent* there is a window of a few milliseconds (``DispatchReport.windows`` measures
it). A crash inside it leaves a notice that did reach the platform still marked
*sending*. It is taken back once its owner is no longer alive — its process is
gone from this host, or its heartbeat (every 10 s of wall-clock time, kept up while
it sends) stopped a minute ago — and is then *in doubt*: a messenger that can
tell (``delivered``: Slack finds the notice's key in the message metadata of the
conversation; Discord
de-duplicates sends by a nonce made from the key) keeps it from going out twice.
A platform that can do neither could show that one notice twice; nothing is ever
lost.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.notify import posts
from bot.notify.pacing import Pace, Seconds, Sleep
from bot.notify.ports import (
    ChannelPost,
    Messenger,
    PartlyDelivered,
    Recipient,
    RetryAfter,
    Undeliverable,
)
from bot.replies import Kind, Reply, public
from bot.text import plural, quote
from storage.models import OutboxMessage
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
MUTED = "muted"
#: A dispatcher that has not beaten for this long is dead: its notices are taken back.
DEAD_AFTER = timedelta(seconds=60)
BEAT_EVERY = timedelta(seconds=10)
#: Sends per second, per workspace, unless told otherwise (under each platform's limit).
DEFAULT_RATES = {"slack": 10.0, "discord": 40.0}
#: Notices in flight at once, per dispatcher.
CONCURRENCY = 16
#: DMs claimed ahead per board: a slice of a big ship, the next taken as it drains.
LANE_AHEAD = 100
#: Seconds between two looks at the outbox while delivering.
REFILL_EVERY = 0.25
#: Seconds before a notice for a platform this process does not serve is looked at again.
UNSERVED_RECHECK = 300.0

#: Builds the reply of a scheduled post (digest, weekly chart) from its payload.
Renderer = Callable[[dict[str, Any]], Reply]


@dataclass
class DispatchReport:
    sent: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    verified: int = 0  # in doubt after a crash, and found already delivered
    errors: list[str] = field(default_factory=list)
    #: Seconds between a platform's answer and the commit of "sent", per notice.
    windows: list[float] = field(default_factory=list)


Target = tuple[Messenger, Recipient | ChannelPost, Reply | Callable[[], Reply]]


@dataclass
class _Entry:
    message: OutboxMessage
    target: Target
    report: DispatchReport
    future: asyncio.Future[None]
    in_doubt: bool
    dm: bool


@dataclass
class Lane:
    """A workspace's notices waiting for their turn: (rank, id, entry), a heap."""

    waiting: list[tuple[int, int, _Entry]] = field(default_factory=list)
    fed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


def owner_name() -> str:
    """This process, as the owner of the notices it is sending."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


def _alive_here(owner: str) -> bool | None:
    """Whether an owner on this host still runs (None: it is on another host)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:60] or not pid.isdecimal():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Dispatcher:
    def __init__(
        self,
        db: Database,
        messengers: Mapping[str, Messenger],
        clock: Clock,
        *,
        renderers: Mapping[str, Renderer] | None = None,
        rates: Mapping[str, float] | None = None,
        sleep: Sleep = asyncio.sleep,
        seconds: Seconds = time.monotonic,
        concurrency: int = CONCURRENCY,
        owner: str | None = None,
        beat_every: float = BEAT_EVERY.total_seconds(),
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.messengers = messengers
        self.clock = clock
        self.renderers = dict(renderers or {})
        self.rates = {**DEFAULT_RATES, **(rates or {})}
        self.sleep = sleep
        self.seconds = seconds
        self.concurrency = concurrency
        self.owner = owner or owner_name()
        #: Wall-clock seconds between heartbeats while sending (a send may wait long).
        self.beat_every = beat_every
        self.wall = wall or (lambda: datetime.now(UTC))
        self._paces: dict[tuple[str, str], Pace] = {}
        self._beaten: datetime | None = None
        #: One lane per (platform, workspace): its notices, in order, at its pace.
        self._lanes: dict[tuple[str, str], Lane] = {}
        self._in_lanes: set[int] = set()
        self._beating: asyncio.Task[None] | None = None
        self._semaphore: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        #: DMs waiting in lanes, per board (a board's next slice is taken when there is room).
        self._waiting_dms: dict[int, int] = {}
        #: Notices for platforms this process does not serve: looked at again later.
        self._skip_for_a_while: dict[int, float] = {}
        self._broken_off: set[int] = set()

    # -- running ----------------------------------------------------------------------

    async def run_once(self) -> DispatchReport:
        """Deliver what is due now, feeding the lanes as they empty, and wait until all
        of it is delivered, failed or given back."""
        report = DispatchReport()
        fed: list[asyncio.Future[None]] = []
        pending: set[asyncio.Future[None]] = set()
        while True:
            more = await self.feed(report)
            fed += more
            pending = {f for f in (*pending, *more) if not f.done()}
            if not pending:
                break
            await asyncio.wait(pending, timeout=REFILL_EVERY)
        for future in fed:
            future.result()  # a crash in a send (tests simulate one) reaches the caller
        return report

    async def serve(self, report: DispatchReport, every: float = REFILL_EVERY) -> None:
        """Deliver for as long as the process runs (the scheduler): feed, then look again
        a moment later; lanes never wait for one another, nor the clock for them."""
        while True:
            try:
                await self.feed(report)
            except Exception:
                log.exception("outbox delivery")
            await asyncio.sleep(every)

    async def feed(self, report: DispatchReport) -> list[asyncio.Future[None]]:
        """Claim what is due for this process's lanes and queue it there; return without
        waiting: one future per notice, done when it is delivered, failed or given back.

        The database is read on a worker thread, so an adapter sharing this event loop
        keeps answering. Channel posts are taken all at once (they are few); DMs a board
        at a time, up to ``LANE_AHEAD`` waiting per board, so one board's 50,000-person
        ship is taken in slices while every other board's notices are taken too."""
        taken = await asyncio.to_thread(self._take_due)
        fed = [self._route(*row, report) for row in taken]
        if self._lanes and (self._beating is None or self._beating.done()):
            self._beating = asyncio.create_task(self._keep_beating())
        return [f for f in fed if f is not None]

    def _take_due(self) -> list[tuple[OutboxMessage, Target | str, bool]]:
        """What is due and not in a lane, with where it goes, claimed in one commit."""
        self.beat()
        live = self.live_owners()
        now = self.clock.now()
        if self._broken_off:
            with self.db.uow() as uow:
                self._give_back(uow, now)
                uow.commit()
        # Looking is a read (on SQLite it holds no write lock, so the sends' commits never
        # wait for it); taking is one short write, which loses nothing another took first.
        with self.db.reader() as uow:
            found = [m for m in uow.outbox.due_posts(now, live, 1000) if m.id not in self._in_lanes]
            for board in uow.outbox.due_dm_boards(now):
                found += self._dms_of(uow, board, now)
            routed = [(m, self._target(uow, m)) for m in found if not self._unserved(m.id)]
        for message, target in routed:
            if target is None:  # for a platform this process does not serve
                self._skip_for_a_while[message.id] = time.monotonic() + UNSERVED_RECHECK
        wanted = [(m, t) for m, t in routed if t is not None]
        if not wanted:
            return []
        with self.db.uow() as uow:
            doubts = uow.outbox.take([m.id for m, _ in wanted], self.owner, live, now)
            uow.commit()
        return [(m, t, doubts[m.id]) for m, t in wanted if m.id in doubts]

    def _dms_of(self, uow: UnitOfWork, board: int, now: datetime) -> list[OutboxMessage]:
        """The next DMs of one board, as many as its lanes have room for."""
        room = LANE_AHEAD - self._waiting_dms.get(board, 0)
        out: list[OutboxMessage] = []
        after, scanned = 0, 0
        while room > 0 and scanned < 10 * LANE_AHEAD:
            page = uow.outbox.due_dms(board, now, after, 200)
            scanned += len(page)
            for m in page:
                if room > 0 and m.id not in self._in_lanes and not self._unserved(m.id):
                    out.append(m)
                    room -= 1
            if len(page) < 200:
                break
            after = page[-1].id
        return out

    def _unserved(self, message_id: int) -> bool:
        until = self._skip_for_a_while.get(message_id)
        if until is None:
            return False
        if until < time.monotonic():
            self._skip_for_a_while.pop(message_id, None)  # overlapping feeds may both drop it
            return False
        return True

    def _give_back(self, uow: UnitOfWork, now: datetime) -> None:
        """Notices whose delivery broke off in this process (the database failed as it
        was recorded) go back to the queue, to be checked before they are sent again."""
        for message_id in list(self._broken_off):
            uow.outbox.retry_later(message_id, now, "interrupted", owner=self.owner)
            self._broken_off.discard(message_id)

    async def settled(self) -> None:
        """Wait until every lane has run dry (what was fed is delivered or given back)."""
        while self._lanes:
            await asyncio.gather(*(lane.task for lane in list(self._lanes.values()) if lane.task))

    def retire(self) -> None:
        """Stopping: what this dispatcher claimed and never began goes back to the queue,
        and the others stop waiting for its heartbeat."""
        with self.db.uow() as uow:
            uow.outbox.release(self.owner)
            uow.outbox.forget_dispatchers([self.owner])
            uow.commit()

    async def _keep_beating(self) -> None:
        """Beat while lanes run: a send that waits out a long 429, a slow chart or a slow
        platform must not make this dispatcher look dead to the others."""
        while self._lanes:
            await asyncio.sleep(self.beat_every)
            try:
                await asyncio.to_thread(self.beat, force=True)
            except Exception:  # the database hiccuped: the next beat may do
                log.warning("dispatcher %s could not beat", self.owner, exc_info=True)

    def _route(
        self, message: OutboxMessage, target: Target | str, in_doubt: bool, report: DispatchReport
    ) -> asyncio.Future[None] | None:
        """Queue a claimed notice in its platform and workspace's lane (channel posts
        before DMs); None when it is not sent at all."""
        if target is MUTED:
            self._done(message.id, "skipped", None)
            report.skipped += 1
            return None
        assert not isinstance(target, str)
        to = target[1]
        key = (to.platform, to.workspace)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane()
            lane.task = asyncio.create_task(self._drain(key, lane))
        future = asyncio.get_running_loop().create_future()
        dm = isinstance(to, Recipient)
        entry = _Entry(message, target, report, future, in_doubt, dm)
        heapq.heappush(lane.waiting, (int(dm), message.id, entry))
        if dm:
            self._waiting_dms[message.board_id] = self._waiting_dms.get(message.board_id, 0) + 1
        lane.fed.set()
        self._in_lanes.add(message.id)
        return future

    async def _drain(self, key: tuple[str, str], lane: Lane) -> None:
        """One workspace's notices at its pace; other workspaces' lanes run meanwhile."""
        slots = self._slots()
        sending: set[asyncio.Task[None]] = set()
        try:
            while lane.waiting or sending:
                if not lane.waiting:  # sends in flight: wait for one, or for more to send
                    lane.fed.clear()
                    fed = asyncio.ensure_future(lane.fed.wait())
                    await asyncio.wait({*sending, fed}, return_when=asyncio.FIRST_COMPLETED)
                    fed.cancel()
                    continue
                await slots.acquire()
                entry = heapq.heappop(lane.waiting)[2]
                self._unwait(entry)
                task = asyncio.create_task(self._deliver_one(entry))
                sending.add(task)
                task.add_done_callback(lambda t: (sending.discard(t), slots.release()))
        finally:
            del self._lanes[key]
            for _, _, entry in lane.waiting:  # cancelled: hand back what was not sent
                self._unwait(entry)
                self._settle(entry)

    def _unwait(self, entry: _Entry) -> None:
        if entry.dm:
            self._waiting_dms[entry.message.board_id] -= 1

    async def _deliver_one(self, entry: _Entry) -> None:
        try:
            if self._start(entry):
                messenger, to, content = entry.target
                await self._send(
                    entry.message, messenger, to, content, entry.in_doubt, entry.report
                )
        except Exception:
            log.exception("delivery of outbox %s broke off", entry.message.id)
            self._broken_off.add(entry.message.id)  # given back at the next feed
        except asyncio.CancelledError:
            entry.future.cancel()
            raise
        except BaseException as exc:  # the process is going down: whoever waits hears it
            if not entry.future.done():
                entry.future.set_exception(exc)
            raise
        finally:
            self._settle(entry)

    def _settle(self, entry: _Entry) -> None:
        self._in_lanes.discard(entry.message.id)
        if not entry.future.done():
            entry.future.set_result(None)

    def _slots(self) -> asyncio.Semaphore:
        """Notices in flight at once across lanes (one semaphore per event loop)."""
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._semaphore[0] is not loop:
            self._semaphore = (loop, asyncio.Semaphore(self.concurrency))
        return self._semaphore[1]

    def beat(self, *, force: bool = False) -> None:
        """Say this dispatcher is alive (at most every ``BEAT_EVERY``). Heartbeats are
        wall-clock time, never the business clock a test or a replay may run fast."""
        now = self.wall()
        if not force and self._beaten is not None and now - self._beaten < BEAT_EVERY:
            return
        with self.db.uow() as uow:
            uow.outbox.beat(self.owner, socket.gethostname()[:100], os.getpid(), now)
            uow.commit()
        self._beaten = now

    def live_owners(self) -> list[str]:
        """Dispatchers alive now (this one included); the others are forgotten, and what
        they left *sending* is taken back: gone from this host, or silent too long."""
        now = self.wall()
        with self.db.reader() as uow:  # looked at four times a second: a read, mostly
            beats = uow.outbox.dispatchers()
        dead = [
            d.owner
            for d in beats
            if d.owner != self.owner
            and (_alive_here(d.owner) is False or d.beat_at < now - DEAD_AFTER)
        ]
        if dead:
            with self.db.uow() as uow:
                uow.outbox.forget_dispatchers(dead)
                uow.commit()
        return sorted({self.owner, *(d.owner for d in beats)} - set(dead))

    def _pace(self, to: Recipient | ChannelPost) -> Pace:
        key = (to.platform, to.workspace)
        pace = self._paces.get(key)
        if pace is None:
            pace = self._paces[key] = Pace(self.rates.get(key[0]) or 1e9, self.seconds, self.sleep)
        return pace

    # -- one notice ---------------------------------------------------------------------

    def _start(self, entry: _Entry) -> bool:
        """Begin sending a notice this dispatcher holds, in a commit of its own (one more
        attempt); False when it is no longer to be sent: taken back, cancelled, or its
        person muted meanwhile."""
        message = entry.message
        with self.db.uow() as uow:
            if entry.dm and uow.people.get(message.payload["person_id"]).muted:
                uow.outbox.finish(message.id, "skipped", self.clock.now(), owner=self.owner)
                uow.commit()
                entry.report.skipped += 1
                return False
            started = uow.outbox.start(message.id, self.owner)
            uow.commit()
        return started

    async def _send(
        self,
        message: OutboxMessage,
        messenger: Messenger,
        to: Recipient | ChannelPost,
        content: Reply | Callable[[], Reply],
        in_doubt: bool,
        report: DispatchReport,
    ) -> None:
        """Send one notice. ``in_doubt``: left *sending* by a dispatcher that died, or
        tried before and failed in a way that may hide a delivery (a timeout after the
        platform posted): the platform is asked first."""
        posted: tuple[str, str] | None = None
        reply: Reply | None = None
        try:
            # A scheduled post is made now, on a worker thread: drawing a chart must not
            # hold up an adapter's event loop.
            reply = await asyncio.to_thread(content) if callable(content) else content
            if in_doubt and await self._delivered(messenger, to, reply):
                self._done(message.id, "sent", None)
                report.verified += 1
                return
            # Claimed a moment ago; but a chart drawn or a check made takes time, in which
            # another dispatcher may have taken it back: then it is that one's to send.
            if (in_doubt or callable(content)) and not self._holds(message.id):
                return
            note: str | None = None
            try:
                await self._pace(to).acquire()  # the send itself keeps the pace, not its task
                if isinstance(to, Recipient):
                    await messenger.send_direct(to, reply)
                else:
                    posted = await messenger.send_to_channel(to, reply)
            except PartlyDelivered as exc:  # out, without a part: never again
                log.warning("outbox %s went out incomplete: %s", message.id, exc)
                posted, note = exc.posted, f"incomplete: {exc}"[:1000]
            answered = time.perf_counter()
        except Undeliverable as exc:  # never will be: record it, do not retry
            log.info("outbox %s cannot be delivered: %s", message.id, exc)
            self._done(message.id, "failed", f"undeliverable: {exc}")
            report.failed += 1
            return
        except RetryAfter as exc:  # the platform asked to wait: not a failure
            self._pace(to).slow_down(exc.seconds)
            with self.db.uow() as uow:
                when = self.clock.now() + timedelta(seconds=exc.seconds)
                uow.outbox.retry_later(
                    message.id, when, str(exc), failed_attempt=False, owner=self.owner
                )
                uow.commit()
            report.retried += 1
            return
        except Exception as exc:  # a platform error: retry later, never stop the rest
            log.warning("delivery of outbox %s failed: %s", message.id, exc)
            report.errors.append(f"{message.dedupe_key}: {exc}")
            with self.db.uow() as uow:
                now, error = self.clock.now(), str(exc)[:1000]
                if message.attempts + 1 >= MAX_ATTEMPTS:
                    uow.outbox.finish(message.id, "failed", now, error, owner=self.owner)
                    report.failed += 1
                else:
                    delay = timedelta(seconds=30 * 2**message.attempts)
                    uow.outbox.retry_later(message.id, now + delay, error, owner=self.owner)
                    report.retried += 1
                uow.commit()
            return
        with self.db.uow() as uow:
            uow.outbox.finish(message.id, "sent", self.clock.now(), note, owner=self.owner)
            if posted is not None and reply.posts_card and reply.card is not None:
                assert isinstance(to, ChannelPost)  # an item's card, posted late: remember it
                uow.workspaces.remember_card(to.platform, to.workspace, reply.card.number, *posted)
            uow.commit()
        report.windows.append(time.perf_counter() - answered)
        report.sent += 1

    def _done(self, message_id: int, state: str, error: str | None) -> None:
        with self.db.uow() as uow:
            uow.outbox.finish(message_id, state, self.clock.now(), error, owner=self.owner)
            uow.commit()

    def _holds(self, message_id: int) -> bool:
        with self.db.uow() as uow:
            return uow.outbox.holds(message_id, self.owner)

    async def _delivered(
        self, messenger: Messenger, to: Recipient | ChannelPost, reply: Reply
    ) -> bool:
        """Whether a notice in doubt already reached the platform. A platform that
        cannot tell, or fails to, gets it again: a rare repeat over a lost notice."""
        delivered = getattr(messenger, "delivered", None)
        if delivered is None:
            return False
        try:
            return bool(await delivered(to, reply))
        except Exception as exc:
            log.warning("could not check whether %s was delivered: %s", to.key, exc)
            return False

    def _target(
        self, uow: UnitOfWork, message: OutboxMessage
    ) -> tuple[Messenger, Recipient | ChannelPost, Reply | Callable[[], Reply]] | str | None:
        """Where and what to send; ``MUTED`` when it must not be sent at all; None
        when no messenger of this process can deliver it."""
        payload, key, job = message.payload, message.dedupe_key, message.job
        if payload.get("kind") == "dm":
            person = uow.people.get(payload["person_id"])
            if person.muted:
                return MUTED
            board_workspaces = {w.id for w in uow.workspaces.of_board(message.board_id)}
            for identity, workspace in uow.people.identities(person.id):
                messenger = self.messengers.get(workspace.platform)
                if messenger is not None and workspace.id in board_workspaces:
                    to = Recipient(
                        workspace.platform,
                        workspace.external_id,
                        identity.external_id,
                        identity.display_name,
                        key,
                        job,
                    )
                    return messenger, to, ship_dm(payload)
            return None
        workspace = uow.workspaces.by_id(payload["workspace_id"])
        messenger = self.messengers.get(workspace.platform)
        if messenger is None:
            return None
        post = ChannelPost(
            workspace.platform,
            workspace.external_id,
            payload["channel"],
            payload.get("thread"),
            key,
            job,
            payload.get("message_id") if payload.get("kind") == "redraw" else None,
        )
        kind = payload.get("kind")
        if kind == posts.KIND:
            reply = posts.post_reply(payload, message.job)
        elif kind in self.renderers:
            # Made when sent, outside this transaction (it reads the database and may
            # draw a chart): a factory, not a reply.
            reply = functools.partial(self.renderers[kind], payload)
        elif kind == "thread":
            reply = ship_thread_reply(payload)
        elif kind == "announce":
            reply = ship_announcement(payload)
        else:
            return None  # a kind this process cannot render: another one will
        return messenger, post, reply


def _note(payload: dict[str, object]) -> str:
    note = payload.get("note")
    return f" — {quote(str(note), 300).rstrip('.')}" if note else ""


def ship_dm(payload: dict[str, object]) -> Reply:
    n, text = payload["item_number"], quote(str(payload["text"]))
    return Reply(
        text=f"🚀 Shipped: #{n} “{text}”{_note(payload)}. You asked for this or voted for it "
        "— thank you. (/feedback mute to stop these.)",
        private=True,
        kind=Kind.SHIP_NOTICE,
    )


def ship_thread_reply(payload: dict[str, object]) -> Reply:
    n = payload["item_number"]
    return public(f"🚀 This shipped as #{n}{_note(payload)}.", kind=Kind.SHIP_NOTICE)


def ship_announcement(payload: dict[str, object]) -> Reply:
    n, text = payload["item_number"], quote(str(payload["text"]))
    demand = payload.get("demand")
    backers = f" — asked for by {plural(int(demand), 'person', 'people')}" if demand else ""
    return public(f"🚀 Shipped: #{n} “{text}”{backers}{_note(payload)}", kind=Kind.SHIP_NOTICE)
