"""The Slack app: Bolt listeners that turn Slack requests into core calls and render the replies.

Acks and slow work are split so Slack always gets its answer fast:

* Slash commands, block actions and modal submissions run the (synchronous,
  millisecond) core call *before* the ack (``process_before_response=True``), and
  the ack carries the private reply as the ephemeral response body.
* Everything that talks to Slack afterwards — posting the public card, remembering
  its ts, updating cards, DMs, uploads, opening modals — runs as a background task
  once the response is on its way.
* Events (reactions, App Home) and message shortcuts ack at once and do all their
  work in the background: they need Web API reads before the core can be called.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.admins import People
from adapters.slack.home import home_view
from adapters.slack.messenger import PLATFORM, SlackMessenger, upload
from adapters.slack.settings import SlackSettings
from bot import emoji
from bot.app import Lodestar
from bot.context import Caller, ChatMessage
from bot.notify.dispatcher import DispatchReport
from bot.replies import ItemCard, Reply, private
from bot.router import FEEDBACK_FORM

log = logging.getLogger(__name__)
T = TypeVar("T")

COMMANDS = ("/feedback", "/nsm")
SHORTCUT = "log_feedback"
#: Replies whose card changed demand or status: the posted cards of that item are redrawn.
REDRAW_KINDS = frozenset({"vote", "merge", "unmerge", "status", "tag", "ship"})
#: Errors after which a public card goes back through the command's response_url.
_CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


def make_client(settings: SlackSettings, token: str | None) -> AsyncWebClient:
    """A Web API client on SLACK_API_URL that waits out 429s (Retry-After) and reconnects."""
    return AsyncWebClient(
        token=token,
        base_url=settings.api_url or AsyncWebClient.BASE_URL,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


class CoreRunner:
    """The synchronous core on worker threads, off the event loop.

    Calls on the ack path go before background ones (posting-card bookkeeping, App
    Home), so a burst of follow-up work never delays the next ack. With SQLite one
    worker is best: writes are serialized by the database anyway, and a second writer
    would only wait in SQLite's busy handler.
    """

    def __init__(self, workers: int) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [
            threading.Thread(target=self._work, name=f"lodestar-core-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, urgent: bool, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((0 if urgent else 1, next(self._order), (loop, future, call)))
        return await future

    def _work(self) -> None:
        while True:
            _priority, _n, job = self._queue.get()
            if job is None:
                return
            loop, future, call = job
            try:
                outcome, failed = call(), False
            except BaseException as error:
                outcome, failed = error, True
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, future, outcome, failed)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put((2, next(self._order), None))


def _settle(future: asyncio.Future[Any], outcome: Any, failed: bool) -> None:
    if future.cancelled():
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class BackgroundTasks:
    """Work scheduled after the ack; kept referenced until done, failures logged."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until no work is left (work may schedule more work)."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._tasks)} background tasks still running")
            await asyncio.wait(set(self._tasks), timeout=remaining)


class Seen:
    """Event ids and trigger ids already handled, so Slack's re-deliveries do nothing."""

    def __init__(self, ttl: float = 3600.0, limit: int = 50_000) -> None:
        self.ttl, self.limit = ttl, limit
        self._keys: OrderedDict[str, float] = OrderedDict()

    def repeat(self, key: str | None) -> bool:
        """True if ``key`` came before (within the TTL); remembers it otherwise."""
        if not key:
            return False
        now = time.monotonic()
        while self._keys:
            at = next(iter(self._keys.values()))
            if at > now - self.ttl and len(self._keys) < self.limit:
                break
            self._keys.popitem(last=False)
        if key in self._keys:
            return True
        self._keys[key] = now
        return False


@dataclass(frozen=True)
class CardRef:
    channel: str
    ts: str
    headline: str | None = None


class Cards:
    """Where each item's card was posted (this process's memory), to redraw it on change."""

    PER_ITEM = 5

    def __init__(self) -> None:
        self._refs: dict[tuple[str, int], list[CardRef]] = {}

    def add(self, team: str, number: int, ref: CardRef) -> None:
        key = (ref.channel, ref.ts)
        refs = [r for r in self._refs.get((team, number), []) if (r.channel, r.ts) != key]
        self._refs[(team, number)] = [*refs, ref][-self.PER_ITEM :]

    def of(self, team: str, number: int) -> list[CardRef]:
        return list(self._refs.get((team, number), []))

    def at(self, team: str, channel: str, ts: str) -> CardRef | None:
        for refs in (v for k, v in self._refs.items() if k[0] == team):
            for ref in refs:
                if (ref.channel, ref.ts) == (channel, ts):
                    return ref
        return None


@dataclass
class Where:
    """Where a conversation happens: who, in which channel, and how to answer privately."""

    client: AsyncWebClient
    caller: Caller
    channel: str | None
    respond: AsyncRespond | None = None
    trigger_id: str | None = None
    thread: str | None = None  # the thread a captured message lives in
    card_at: tuple[str, str] | None = None  # the card the action or reaction was on
    notes: list[str] = field(default_factory=list)

    @property
    def team(self) -> str:
        return self.caller.workspace


class SlackBot:
    """Lodestar's Slack adapter: a Bolt AsyncApp wired to one Lodestar core."""

    def __init__(
        self,
        lodestar: Lodestar,
        settings: SlackSettings,
        *,
        client: AsyncWebClient | None = None,
        core_runner: str | None = None,
    ) -> None:
        self.lodestar = lodestar
        self.router = lodestar.router
        self.settings = settings
        self.tasks = BackgroundTasks()
        self.seen = Seen()
        self.cards = Cards()
        self.people = People(ttl=settings.people_ttl)
        self._capture = emoji.canonical(settings.capture_emoji)
        self._vote = emoji.canonical(settings.vote_emoji)
        self._runner = self._make_runner(core_runner or settings.core_runner)
        self._session: aiohttp.ClientSession | None = None
        self._dispatch_lock = asyncio.Lock()
        self._dispatch_wanted = False

        oauth = None
        if settings.oauth:
            from adapters.slack.oauth import oauth_settings

            oauth = oauth_settings(settings, lodestar.db.engine)
        self.client = client or make_client(settings, None if oauth else settings.bot_token)
        self.app = AsyncApp(
            name="lodestar",
            signing_secret=settings.signing_secret or "",
            client=self.client,
            oauth_settings=oauth,
            process_before_response=True,
        )
        self.messenger = SlackMessenger(self.client_for)
        lodestar.messengers[PLATFORM] = self.messenger
        self.dispatcher = lodestar.dispatcher()
        self._register()

    # -- plumbing --------------------------------------------------------------------------------

    def _make_runner(self, runner: str) -> CoreRunner | None:
        if runner not in ("inline", "thread", "auto"):
            raise ValueError(f"core runner must be inline, thread or auto, not {runner!r}")
        sqlite = self.lodestar.db.dialect == "sqlite"
        if runner == "inline" or (runner == "auto" and sqlite):
            return None  # measured faster for SQLite: bench/slack_ack.py
        return CoreRunner(1 if sqlite else 4)

    async def core(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A synchronous core call someone is waiting for (before an ack)."""
        if self._runner is None:
            return call(*args, **kwargs)
        return await self._runner.run(True, functools.partial(call, *args, **kwargs))

    async def later(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A synchronous core call in follow-up work: it yields to calls on the ack path."""
        if self._runner is None:
            return call(*args, **kwargs)
        return await self._runner.run(False, functools.partial(call, *args, **kwargs))

    async def start(self) -> None:
        """Share one HTTP connection pool for every Web API call (call inside the loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self.client.session = self._session

    async def close(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(TimeoutError):
            await self.tasks.drain(timeout)
        if self._session is not None:
            self.client.session = None
            await self._session.close()
            self._session = None
        if self._runner is not None:
            self._runner.shutdown()

    async def client_for(self, team: str) -> AsyncWebClient:
        """A client with the bot token of workspace ``team`` (for outbox deliveries)."""
        if not self.settings.oauth:
            return self.client
        store = self.app.installation_store
        bot = await store.async_find_bot(enterprise_id=None, team_id=team) if store else None
        if bot is None:
            raise RuntimeError(f"Lodestar is not installed in Slack workspace {team}")
        return AsyncWebClient(
            token=bot.bot_token,
            base_url=self.client.base_url,
            session=self.client.session,
            retry_handlers=list(self.client.retry_handlers),
        )

    # -- outbox ------------------------------------------------------------------------------------

    def kick(self) -> None:
        """Deliver the outbox now (after a ship) rather than at the next tick."""
        self.tasks.spawn(self.dispatch_now())

    async def dispatch_now(self) -> DispatchReport | None:
        """Run the dispatcher; a call during a run makes that run go round once more."""
        self._dispatch_wanted = True
        if self._dispatch_lock.locked():
            return None
        async with self._dispatch_lock:
            report = None
            while self._dispatch_wanted:
                self._dispatch_wanted = False
                report = await self.dispatcher.run_once()
            return report

    async def dispatch_forever(self, every: float | None = None) -> None:
        every = self.settings.dispatch_every if every is None else every
        while True:
            try:
                await self.dispatch_now()
            except Exception:
                log.exception("outbox dispatch failed")
            await asyncio.sleep(every)

    # -- translation helpers ---------------------------------------------------------------------

    def reaction_kind(self, name: str) -> str | None:
        """The core's emoji name for a configured capture/vote reaction, else None."""
        canonical = emoji.canonical(name)
        if canonical == self._capture:
            return emoji.CAPTURE
        if canonical == self._vote:
            return emoji.VOTE
        return None

    async def caller(
        self,
        client: AsyncWebClient,
        team: str,
        user: str,
        channel: str | None,
        *,
        name: str | None = None,
        team_name: str | None = None,
    ) -> Caller:
        person = await self.people.get(client, team, user, name)
        return Caller(
            platform=PLATFORM,
            workspace=team,
            user=user,
            name=person.name,
            channel=channel,
            is_platform_admin=person.is_admin,
            workspace_name=team_name,
        )

    @staticmethod
    def ack_body(replies: list[Reply]) -> dict[str, Any] | None:
        """The ephemeral answer to a command: its private replies, plus a receipt for a card."""
        shown = []
        for reply in replies:
            if not reply.private and reply.kind == "item_created" and reply.card is not None:
                shown.append(
                    private(f"📝 Logged as #{reply.card.number}; its card is in the channel.")
                )
        shown += [r for r in replies if r.private and r.form is None]
        if not shown:
            return None
        return {**render.message(shown), "response_type": "ephemeral"}

    # -- delivery after the ack --------------------------------------------------------------------

    async def deliver(self, where: Where, replies: list[Reply], *, acked: bool = False) -> None:
        """Post public replies, open forms, send private ones (unless the ack carried them),
        upload attachments, redraw changed cards and run the outbox after a ship."""
        privates: list[Reply] = []
        for reply in replies:
            if reply.form is not None:
                await self._open_form(where, reply)
            elif reply.private:
                privates.append(reply)
            else:
                await self._post_public(where, reply)
            if _changes_card(reply):
                await self._redraw(where, reply.card)
            if reply.kind == "ship" and not reply.private:
                self.kick()
        if privates and not acked:
            await self.send_private(where, privates)
        for reply in privates:
            if reply.attachments:
                await self._upload_privately(where, reply)

    async def _post_public(self, where: Where, reply: Reply) -> None:
        thread = (where.thread or reply.thread_of) if reply.thread_of else None
        channel = where.channel or where.caller.user  # no channel: the app's DM with them
        if reply.card is not None:
            body = render.card_message(reply.card, reply.text)
        else:
            body = render.message([reply])
        try:
            posted = await where.client.chat_postMessage(
                channel=channel, thread_ts=thread, unfurl_links=False, **body
            )
        except SlackApiError as error:
            if where.respond is None or error.response.get("error") not in _CANNOT_POST:
                raise
            # Not a member of this channel: answer in it through the command's response_url.
            await where.respond(response_type="in_channel", replace_original=False, **body)
            return
        if reply.attachments:
            await upload(where.client, posted["channel"], reply, thread=thread)
        if reply.card is not None and reply.kind in ("item_created", "ship"):
            number = reply.card.number
            ts, posted_channel = posted["ts"], posted["channel"]
            headline = reply.text if reply.kind == "item_created" else None
            self.cards.add(where.team, number, CardRef(posted_channel, ts, headline))
            await self.later(
                self.lodestar.feedback.remember_card, where.caller, number, posted_channel, ts
            )

    async def send_private(self, where: Where, replies: list[Reply]) -> None:
        """Ephemeral: through response_url when there is one, else chat.postEphemeral, else DM."""
        body = render.message(replies)
        if where.respond is not None:
            await where.respond(response_type="ephemeral", replace_original=False, **body)
        elif where.channel and not where.channel.startswith("D"):
            await where.client.chat_postEphemeral(
                channel=where.channel, user=where.caller.user, **body
            )
        else:
            await where.client.chat_postMessage(channel=where.caller.user, **body)

    async def _upload_privately(self, where: Where, reply: Reply) -> None:
        opened = await where.client.conversations_open(users=where.caller.user)
        await upload(where.client, opened["channel"]["id"], reply)

    async def _open_form(self, where: Where, reply: Reply) -> None:
        assert reply.form is not None
        if where.trigger_id:
            try:
                await where.client.views_open(
                    trigger_id=where.trigger_id, view=render.modal(reply.form, where.channel)
                )
                return
            except SlackApiError as error:  # e.g. expired_trigger_id: ask in words instead
                log.warning("views.open failed: %s", error.response.get("error"))
        await self.send_private(where, [reply])

    async def _redraw(self, where: Where, card: ItemCard) -> None:
        """chat.update every card of this item this process knows, and the one acted on."""
        refs = self.cards.of(where.team, card.number)
        # Cards posted by other workers or before a restart are known to the database.
        stored = await self.later(self.lodestar.feedback.cards, where.caller, card.number)
        for channel, ts in [*stored, *([where.card_at] if where.card_at else [])]:
            if all((r.channel, r.ts) != (channel, ts) for r in refs):
                refs.append(self.cards.at(where.team, channel, ts) or CardRef(channel, ts))
        for ref in refs:
            try:
                body = render.card_message(card, ref.headline)
                await where.client.chat_update(channel=ref.channel, ts=ref.ts, **body)
            except SlackApiError as error:
                log.info("could not redraw card %s/%s: %s", ref.channel, ref.ts, error)

    # -- listeners -------------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        for command in COMMANDS:
            app.command(command)(self.on_command)
        app.shortcut(SHORTCUT)(self.on_shortcut)
        app.event("reaction_added")(self.on_reaction)
        app.event("reaction_removed")(self.on_reaction)
        app.event("app_home_opened")(self.on_home)
        app.action(render.VOTE)(self.on_vote_button)
        app.action(render.WHO)(self.on_card_button)
        app.action(render.SHOW)(self.on_card_button)
        app.action(render.OPEN_FORM)(self.on_open_form)
        app.view(render.FORM_CALLBACK)(self.on_form)

    async def on_command(
        self, ack: Callable[..., Awaitable[Any]], command: dict[str, Any], context: Any
    ) -> None:
        trigger = command.get("trigger_id")
        if self.seen.repeat(f"trigger:{trigger}" if trigger else None):
            await ack()
            return
        client: AsyncWebClient = context.client
        caller = await self.caller(
            client,
            command["team_id"],
            command["user_id"],
            command.get("channel_id"),
            name=command.get("user_name"),
            team_name=command.get("team_domain"),
        )
        name = command["command"].lstrip("/")
        replies = await self.core(self.router.command, caller, name, command.get("text") or "")
        body = self.ack_body(replies)
        await (ack(**body) if body else ack())
        where = Where(client, caller, command.get("channel_id"), context.respond, trigger)
        self.tasks.spawn(self.deliver(where, replies, acked=True))

    async def on_shortcut(
        self, ack: Callable[..., Awaitable[Any]], shortcut: dict[str, Any], context: Any
    ) -> None:
        await ack()
        if self.seen.repeat(f"trigger:{shortcut.get('trigger_id')}"):
            return
        self.tasks.spawn(self._shortcut(shortcut, context.client, context.respond))

    async def _shortcut(
        self, shortcut: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond | None
    ) -> None:
        team = (shortcut.get("team") or {}).get("id") or shortcut["user"].get("team_id")
        channel = shortcut["channel"]["id"]
        caller = await self.caller(
            client, team, shortcut["user"]["id"], channel, name=shortcut["user"].get("name")
        )
        message = shortcut["message"]
        captured = await self._chat_message(client, team, channel, message)
        replies = await self.later(self.router.capture_message, caller, captured, "shortcut")
        where = Where(client, caller, channel, respond, thread=message.get("thread_ts"))
        await self.deliver(where, replies)

    async def _chat_message(
        self, client: AsyncWebClient, team: str, channel: str, message: dict[str, Any]
    ) -> ChatMessage:
        author_id = message.get("user") or message.get("bot_id") or "unknown"
        author = await self.people.get(client, team, author_id, message.get("username"))
        try:
            link = await client.chat_getPermalink(channel=channel, message_ts=message["ts"])
            permalink = link.get("permalink")
        except SlackApiError:
            permalink = None
        return ChatMessage(
            channel=channel,
            message_id=message["ts"],
            author=author_id,
            author_name=author.name,
            text=message.get("text") or "",
            permalink=permalink,
        )

    async def on_reaction(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        if self.seen.repeat(f"event:{body.get('event_id')}"):
            return
        item = event.get("item") or {}
        kind = self.reaction_kind(event.get("reaction", ""))
        added = event.get("type") == "reaction_added"
        if kind is None or item.get("type") != "message" or (kind == emoji.CAPTURE and not added):
            return
        team = body.get("team_id") or context.team_id
        self.tasks.spawn(self._reaction(context.client, team, event, kind, added))

    async def _reaction(
        self, client: AsyncWebClient, team: str, event: dict[str, Any], kind: str, added: bool
    ) -> None:
        channel, ts = event["item"]["channel"], event["item"]["ts"]
        caller = await self.caller(client, team, event["user"], channel)
        where = Where(client, caller, channel, card_at=(channel, ts))
        if kind == emoji.VOTE:
            target = ChatMessage(channel, ts, event.get("item_user") or "", "", "")
            replies = await self.later(self.router.reaction, caller, kind, target, added=added)
            await self.deliver(where, replies)
            return
        message = await self._fetch_message(client, channel, ts)
        if message is None:
            await self.send_private(
                where,
                [
                    private(
                        "I can't read that message: invite me to the channel "
                        "(/invite @Lodestar) and react again.",
                        kind="error",
                    )
                ],
            )
            return
        captured = await self._chat_message(client, team, channel, message)
        replies = await self.later(self.router.reaction, caller, kind, captured, added=True)
        where.thread = message.get("thread_ts") or ts
        await self.deliver(where, replies)

    @staticmethod
    async def _fetch_message(
        client: AsyncWebClient, channel: str, ts: str
    ) -> dict[str, Any] | None:
        """The message at ``ts``: from the channel's history, else from its thread."""
        window = {"channel": channel, "latest": ts, "oldest": ts, "inclusive": True}
        try:
            history = await client.conversations_history(limit=1, **window)
            for message in history.get("messages") or []:
                if message.get("ts") == ts:
                    return message
            replies = await client.conversations_replies(ts=ts, limit=10, **window)
            for message in replies.get("messages") or []:
                if message.get("ts") == ts:
                    return message
        except SlackApiError as error:
            log.info("could not fetch %s/%s: %s", channel, ts, error.response.get("error"))
        return None

    async def on_vote_button(
        self,
        ack: Callable[..., Awaitable[Any]],
        body: dict[str, Any],
        action: dict[str, Any],
        context: Any,
    ) -> None:
        where = await self._where_of_action(body, context)

        def vote() -> list[Reply]:
            return self.router.vote_button(where.caller, self._item_of(where, action))

        replies = await self.core(vote)
        await ack()
        self.tasks.spawn(self.deliver(where, replies))

    async def on_card_button(
        self,
        ack: Callable[..., Awaitable[Any]],
        body: dict[str, Any],
        action: dict[str, Any],
        context: Any,
    ) -> None:
        where = await self._where_of_action(body, context)
        verb = "who" if action["action_id"] == render.WHO else "show"

        def look() -> list[Reply]:
            text = f"{verb} #{self._item_of(where, action)}"
            return self.router.command(where.caller, "feedback", text)

        replies = await self.core(look)
        await ack()
        self.tasks.spawn(self.deliver(where, replies))

    async def on_open_form(
        self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any], context: Any
    ) -> None:
        await ack()
        await context.client.views_open(
            trigger_id=body["trigger_id"], view=render.modal(FEEDBACK_FORM, None)
        )

    def _item_of(self, where: Where, action: dict[str, Any]) -> int:
        """The item a card button stands for: the card's own item when the core knows
        the card (numbers change when a board joins another), else the button's value."""
        if where.card_at is not None:
            number = self.lodestar.feedback.item_for_message(where.caller, *where.card_at)
            if number is not None:
                return number
        return _number(action)

    async def _where_of_action(self, body: dict[str, Any], context: Any) -> Where:
        channel = (body.get("channel") or {}).get("id")
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id")
        caller = await self.caller(
            context.client, team, body["user"]["id"], channel, name=body["user"].get("username")
        )
        container = body.get("container") or {}
        card_at = None
        if container.get("message_ts") and not container.get("is_ephemeral"):
            card_at = (container.get("channel_id") or channel, container["message_ts"])
        return Where(
            context.client,
            caller,
            channel,
            context.respond,
            body.get("trigger_id"),
            card_at=card_at,
        )

    async def on_form(
        self,
        ack: Callable[..., Awaitable[Any]],
        body: dict[str, Any],
        view: dict[str, Any],
        context: Any,
    ) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        values = view.get("state", {}).get("values", {})
        text = values.get(render.FORM_BLOCK, {}).get(render.FORM_INPUT, {}).get("value") or ""
        channel = meta.get("channel")
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id")
        caller = await self.caller(
            context.client, team, body["user"]["id"], channel, name=body["user"].get("username")
        )
        replies = await self.core(
            self.router.submit_form, caller, meta.get("kind") or FEEDBACK_FORM.kind, text
        )
        errors = [r for r in replies if r.kind == "error"]
        if errors:
            await ack(response_action="errors", errors={render.FORM_BLOCK: errors[0].text[:300]})
            return
        await ack()
        self.tasks.spawn(self.deliver(Where(context.client, caller, channel), replies))

    async def on_home(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        if event.get("tab", "home") != "home" or self.seen.repeat(f"event:{body.get('event_id')}"):
            return
        team = body.get("team_id") or context.team_id
        self.tasks.spawn(self.publish_home(context.client, team, event["user"]))

    async def publish_home(self, client: AsyncWebClient, team: str, user: str) -> None:
        caller = await self.caller(client, team, user, None)
        view = await self.later(home_view, self.router, caller)
        await client.views_publish(user_id=user, view=view)


def _changes_card(reply: Reply) -> bool:
    """The reply reports a change to an item that its posted cards should show."""
    return (
        reply.card is not None
        and reply.kind in REDRAW_KINDS
        and bool(reply.data.get("changed", True))
    )


def _number(action: dict[str, Any]) -> int:
    return int(str(action.get("value", "0")).lstrip("#") or 0)


def build_slack_bot(
    lodestar: Lodestar,
    settings: SlackSettings,
    *,
    client: AsyncWebClient | None = None,
    core_runner: str | None = None,
) -> SlackBot:
    """The Bolt app and its listeners over ``lodestar``; tests pass a fake-pointed client."""
    return SlackBot(lodestar, settings, client=client, core_runner=core_runner)
