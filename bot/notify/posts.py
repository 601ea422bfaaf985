"""Public posts an adapter could not make (the platform answered an error): queued in the
outbox, so the dispatcher posts them later with retries, records a failure, and, for an
item's card, remembers where it landed (reactions on it vote, changes redraw it).

The payload keeps the reply as it was meant (text, and the card as it stood); the dedupe
key names the place and what was posted there, so a re-delivered failure queues once.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime
from typing import Any

from bot.replies import ItemCard, Kind, Reply, public
from storage.uow import UnitOfWork

KIND = "post"


def queue_post(
    uow: UnitOfWork,
    board_id: int,
    workspace_id: int,
    channel: str,
    thread: str | None,
    reply: Reply,
    now: datetime,
) -> bool:
    """Queue ``reply`` for ``channel`` (in ``thread``); False when it is queued already."""
    what = (
        f"card{reply.card.number}"
        if reply.posts_card and reply.card is not None
        else hashlib.sha256(reply.text.encode()).hexdigest()[:16]
    )
    payload: dict[str, Any] = {
        "kind": KIND,
        "workspace_id": workspace_id,
        "channel": channel,
        "thread": thread,
        "text": reply.text,
    }
    if reply.posts_card and reply.card is not None:
        payload["card"] = asdict(reply.card)
    key = f"post:{workspace_id}:{channel}:{thread or ''}:{reply.kind}:{what}"
    return uow.outbox.enqueue(board_id, key[:200], str(reply.kind), payload, now)


def post_reply(payload: dict[str, Any], job: str) -> Reply:
    """The public reply a queued post stands for (an item's card when it carries one)."""
    card = payload.get("card")
    if not isinstance(card, dict):
        return public(str(payload["text"]), kind=Kind(job))
    item = ItemCard(**{**card, "tags": tuple(card.get("tags") or ())})
    return public(str(payload["text"]), kind=Kind(job), card=item, posts_card=True)
