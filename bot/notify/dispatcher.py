"""Delivers the outbox through the adapters' messengers.

A message is claimed (a conditional update with a lease) and committed before it
is sent, and marked sent right after, each in its own transaction: a crash
loses nothing, a second dispatcher never takes a message another one holds,
and only a crash in the instant between send and mark can repeat one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.clock import Clock
from bot.notify import posts
from bot.notify.ports import ChannelPost, Messenger, Recipient, Undeliverable
from bot.replies import Reply, public
from bot.text import quote
from storage.models import OutboxMessage
from storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 6
MUTED = "muted"


@dataclass
class DispatchReport:
    sent: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    def __init__(self, db: Database, messengers: Mapping[str, Messenger], clock: Clock) -> None:
        self.db = db
        self.messengers = messengers
        self.clock = clock

    async def run_once(self, limit: int = 200, pages: int = 20) -> DispatchReport:
        """Deliver what is due, ``limit`` messages a page; pages go on past messages
        for platforms this process does not serve, so those never hold up the rest."""
        report = DispatchReport()
        after = 0
        for _ in range(pages):
            with self.db.uow() as uow:
                due = uow.outbox.due(self.clock.now(), limit, after)
                uow.commit()
            for message in due:
                await self._deliver(message, report)
            if len(due) < limit:
                break
            after = due[-1].id
        return report

    async def _deliver(self, message: OutboxMessage, report: DispatchReport) -> None:
        now = self.clock.now()
        with self.db.uow() as uow:
            target = self._target(uow, message)
            if target is None:
                return  # for a platform this process does not serve: leave it be
            if not uow.outbox.claim(message, now + LEASE):
                return
            if target is MUTED:
                uow.outbox.finish(message.id, "skipped", now)
                uow.commit()
                report.skipped += 1
                return
            uow.commit()
        assert not isinstance(target, str)
        messenger, to, reply = target
        posted = None
        try:
            if isinstance(to, Recipient):
                await messenger.send_direct(to, reply)
            else:
                posted = await messenger.send_to_channel(to, reply)
        except Exception as exc:  # a platform error: retry later, never stop the rest
            log.warning("delivery of outbox %s failed: %s", message.id, exc)
            report.errors.append(f"{message.dedupe_key}: {exc}")
            with self.db.uow() as uow:
                if isinstance(exc, Undeliverable) or message.attempts + 1 >= MAX_ATTEMPTS:
                    uow.outbox.finish(message.id, "failed", self.clock.now(), str(exc))
                    report.failed += 1
                else:
                    delay = timedelta(seconds=30 * 2**message.attempts)
                    uow.outbox.retry_later(message.id, self.clock.now() + delay, str(exc))
                    report.retried += 1
                uow.commit()
            return
        with self.db.uow() as uow:
            uow.outbox.finish(message.id, "sent", self.clock.now())
            if posted is not None and reply.posts_card and reply.card is not None:
                assert isinstance(to, ChannelPost)  # an item's card, posted late: remember it
                uow.workspaces.remember_card(to.platform, to.workspace, reply.card.number, *posted)
            uow.commit()
        report.sent += 1

    def _target(
        self, uow: UnitOfWork, message: OutboxMessage
    ) -> tuple[Messenger, Recipient | ChannelPost, Reply] | str | None:
        """Where and what to send; ``MUTED`` when it must not be sent at all; None
        when no messenger of this process can deliver it."""
        payload = message.payload
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
                    )
                    return messenger, to, ship_dm(payload)
            return None
        workspace = uow.workspaces.by_id(payload["workspace_id"])
        messenger = self.messengers.get(workspace.platform)
        if messenger is None:
            return None
        post = ChannelPost(
            workspace.platform, workspace.external_id, payload["channel"], payload.get("thread")
        )
        if payload.get("kind") == posts.KIND:
            reply = posts.post_reply(payload, message.job)
        elif post.thread:
            reply = ship_thread_reply(payload)
        else:
            reply = ship_announcement(payload)
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
        kind="ship_notice",
    )


def ship_thread_reply(payload: dict[str, object]) -> Reply:
    n = payload["item_number"]
    return public(f"🚀 This shipped as #{n}{_note(payload)}.", kind="ship_notice")


def ship_announcement(payload: dict[str, object]) -> Reply:
    n, text = payload["item_number"], quote(str(payload["text"]))
    demand = payload.get("demand")
    backers = f" — asked for by {demand} people" if demand else ""
    return public(f"🚀 Shipped: #{n} “{text}”{backers}{_note(payload)}", kind="ship_notice")
