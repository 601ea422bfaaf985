"""Ship notices, queued in the outbox in the same transaction as the status change.

Each notice has a dedupe key naming the group and the recipient, so a second
``ship``, a retry or a crash never queues one twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from storage.models import Item
from storage.repositories import BoardRepository
from storage.uow import UnitOfWork

JOB = "ship_notice"


@dataclass(frozen=True)
class Queued:
    people: int
    threads: int
    announcements: int
    muted: int


#: Why a ship notice was not sent: the item was un-shipped first. Shipped again, the
#: notices skipped for it are queued again (and only those: nobody is told twice).
UNSHIPPED = "cancelled: un-shipped before it was sent"


def notices_of(head_id: int) -> str:
    """The key prefix of every ship notice of a group: ``ship:<head id>:``."""
    return f"ship:{head_id}:"


def dms_of(head_id: int) -> str:
    """The key prefix of a group's ship DMs (``ship:<head id>:person:<person id>``)."""
    return f"{notices_of(head_id)}person:"


def cancel_ship_notices(uow: UnitOfWork, board_id: int, head: Item, now: datetime) -> int:
    """An item taken back from shipped: what was not sent yet is not sent."""
    return uow.outbox.cancel_queued(board_id, notices_of(head.id), UNSHIPPED, now)


def queue_ship_notices(
    uow: UnitOfWork, repo: BoardRepository, head: Item, note: str | None, now: datetime
) -> Queued:
    base = {"item_number": head.number, "text": head.text, "note": note}
    again = Counter(
        key.split(":")[2]
        for key in uow.outbox.requeue_cancelled(repo.board_id, notices_of(head.id), UNSHIPPED, now)
    )
    people, threads, announcements = again["person"], again["source"], again["announce"]
    muted = 0
    for person_id in sorted(repo.backers(head.id)):
        if uow.people.get(person_id).muted:
            muted += 1
            continue
        people += uow.outbox.enqueue(
            repo.board_id,
            f"{dms_of(head.id)}{person_id}",
            JOB,
            {**base, "kind": "dm", "person_id": person_id},
            now,
        )
    group = repo.group(head.id)
    for source in repo.sources(i.id for i in group):
        if source.message_id and source.channel and source.workspace_id:
            threads += uow.outbox.enqueue(
                repo.board_id,
                f"{notices_of(head.id)}source:{source.id}",
                JOB,
                {
                    **base,
                    "kind": "thread",
                    "workspace_id": source.workspace_id,
                    "channel": source.channel,
                    "thread": source.message_id,
                },
                now,
            )
    for workspace in uow.workspaces.of_board(repo.board_id):
        channel = uow.workspaces.setting(workspace.id, "announce_channel")
        if channel:
            announcements += uow.outbox.enqueue(
                repo.board_id,
                f"{notices_of(head.id)}announce:{workspace.id}",
                JOB,
                {
                    **base,
                    "kind": "announce",
                    "workspace_id": workspace.id,
                    "channel": channel,
                    "demand": head.demand,
                },
                now,
            )
    return Queued(people, threads, announcements, muted)
