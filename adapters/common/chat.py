"""The part of a chat adapter that is the same on every platform.

``ChatAdapter`` owns the core runner, the background tasks, re-delivery
de-duplication and the outbox loop, and ``deliver`` carries out what the core's
replies ask for (see ``bot.replies.Reply``): open a form, post public replies (and
remember a posted card; a post the platform refuses goes to the outbox), send
private ones, upload attachments, redraw the cards of changed groups, deliver the
outbox now, run slow follow-up work off the event loop. ``start`` warms the core.
A platform adapter implements the rendering hooks and translates its events into
calls on ``self.router``.
"""

from __future__ import annotations

import abc
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from adapters.common.core import Core, QuietPool
from adapters.common.dedupe import Seen
from adapters.common.outbox import OutboxLoop
from adapters.common.tasks import BackgroundTasks
from bot.app import Lodestar
from bot.context import Caller
from bot.notify.ports import Messenger
from bot.replies import PostedCard, Reply

log = logging.getLogger(__name__)


@dataclass
class Conversation:
    """Where a conversation happens: who, in which channel, and what it was about."""

    caller: Caller
    channel: str | None
    thread: str | None = None  # the thread a captured message lives in
    card_at: tuple[str, str] | None = None  # (channel, message id) of the card acted on
    notes: list[str] = field(default_factory=list)


W = TypeVar("W", bound=Conversation)


class ChatAdapter(abc.ABC, Generic[W]):
    platform: str

    def __init__(
        self, lodestar: Lodestar, messenger: Messenger, *, core: str, dispatch_every: float
    ) -> None:
        self.lodestar = lodestar
        self.router = lodestar.router
        self.core = Core(core, lodestar.db.dialect)
        self.tasks = BackgroundTasks()
        self.seen = Seen()
        self.messenger = messenger
        lodestar.messengers[self.platform] = messenger
        self.outbox = OutboxLoop(lodestar.dispatcher(), dispatch_every)
        self.warming: Future[None] | None = None
        self._index_pool = QuietPool(1, thread_name_prefix="lodestar-index")

    # -- what a platform provides ------------------------------------------------------

    @abc.abstractmethod
    async def post_public(self, where: W, reply: Reply) -> tuple[str, str] | None:
        """Post in the conversation's channel; (channel, message id) when posted."""

    @abc.abstractmethod
    async def send_private(self, where: W, replies: list[Reply]) -> None:
        """Show replies to the caller alone."""

    @abc.abstractmethod
    async def upload_private(self, where: W, reply: Reply) -> None:
        """Give the caller alone a reply's attachments."""

    @abc.abstractmethod
    async def open_form(self, where: W, reply: Reply) -> None:
        """Ask the caller for input (``reply.form``)."""

    @abc.abstractmethod
    async def update_card(self, card: PostedCard) -> None:
        """Redraw a posted card of this platform to show ``card.card``."""

    def post_target(self, where: W, reply: Reply) -> tuple[str, str | None]:
        """Where ``post_public`` posts ``reply``: (channel, thread), for the outbox to post
        it there when the platform fails. By default the conversation's channel and the
        message the reply is about."""
        return where.channel or where.caller.user, reply.thread_of

    # -- delivery --------------------------------------------------------------------------

    async def deliver(self, where: W, replies: list[Reply], *, acked: bool = False) -> None:
        """Carry out the replies; private ones are skipped when the ack carried them.

        Each step stands alone: a platform error in one (a post, a form, a redraw) is
        logged and never skips the next, and a public post that fails goes to the outbox.
        """
        privates: list[Reply] = []
        for reply in replies:
            if reply.form is not None:
                await self._step("open a form", self.open_form(where, reply))
            elif reply.private:
                privates.append(reply)
            else:
                await self.publish(where, reply)
            if reply.redraw:
                await self._step("redraw cards", self.redraw(where.caller, reply))
            if reply.deliver_now:
                self.kick_outbox()
            if reply.follow_up is not None:
                self.tasks.spawn(self.follow_up(where, reply.follow_up))
        if privates and not acked:
            await self._step("answer privately", self.send_private(where, privates))
        for reply in privates:
            if reply.attachments:
                await self._step("upload", self.upload_private(where, reply))

    async def publish(self, where: W, reply: Reply) -> None:
        """Post a public reply (remembering a card); if the platform fails, the outbox
        posts it later."""
        try:
            posted = await self.post_public(where, reply)
        except Exception as error:
            log.warning("posting a %s reply failed (%s): queued in the outbox", reply.kind, error)
            channel, thread = self.post_target(where, reply)
            await self._step(
                "queue a post",
                self.core.later(self.router.post_later, where.caller, reply, channel, thread),
            )
            return
        if posted is not None and reply.posts_card and reply.card is not None:
            await self.core.later(
                self.router.remember_card, where.caller, reply.card.number, *posted
            )

    @staticmethod
    async def _step(what: str, work: Awaitable[Any]) -> None:
        try:
            await work
        except Exception:
            log.exception("could not %s", what)

    async def follow_up(self, where: W, work: Callable[[], list[Reply]]) -> None:
        """The slow part of a command (an export), off the event loop, then its replies."""
        await self.deliver(where, await self.core.slow(work))

    async def redraw(self, caller: Caller, reply: Reply) -> None:
        """Every posted card of the groups the reply changed: this platform's now, the
        others' (a board joined across platforms) through the outbox."""
        cards = await self.core.later(self.router.cards_to_redraw, caller, reply)
        elsewhere = [c for c in cards if c.platform != self.platform]
        if elsewhere and await self.core.later(self.router.queue_redraws, caller, elsewhere):
            self.kick_outbox()  # delivered here too if this process serves that platform
        for card in cards:
            if card.platform != self.platform:
                continue
            try:
                await self.update_card(card)
            except Exception as error:  # a deleted card must not stop the others
                log.info("could not redraw card %s/%s: %s", card.channel, card.message_id, error)

    def kick_outbox(self) -> None:
        """Deliver the outbox now (after a ship) rather than at the next tick."""
        self.tasks.spawn(self.outbox.run_now())

    async def start(self) -> None:
        """Begin serving: what the first commands would wait seconds for (each board's
        duplicate index) is prepared in the background (``warming``)."""
        if self.warming is None:
            self.warming = self.router.warm_up(self._index_pool)

    async def close(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(TimeoutError):
            await self.tasks.drain(timeout)
        self.core.close()
        self._index_pool.shutdown(wait=False, cancel_futures=True)

    def spawn(self, work: Any) -> None:
        self.tasks.spawn(work)
