"""The port every adapter implements to deliver what the outbox holds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from bot.replies import Reply


class RetryAfter(Exception):
    """The platform said to wait (a 429 its client library did not wait out): the
    notice goes back to the queue for that long, without counting as a failure."""

    def __init__(self, seconds: float, detail: str = "rate limited") -> None:
        super().__init__(f"{detail}; retry after {seconds:g} s")
        self.seconds = seconds


@dataclass(frozen=True)
class Recipient:
    platform: str
    workspace: str  # the platform's workspace id
    user: str  # the platform's user id
    name: str
    key: str = ""  # the notice's dedupe key: the same notice always has the same key
    job: str = ""  # what kind of notice (ship_notice, digest, alert, …)

    @property
    def nonce(self) -> str:
        return nonce(self.key)


@dataclass(frozen=True)
class ChannelPost:
    platform: str
    workspace: str
    channel: str
    thread: str | None = None  # post as a reply in this message's thread
    key: str = ""
    job: str = ""
    edit: str | None = None  # not a new post: redraw this message (an item's card)

    @property
    def nonce(self) -> str:
        return nonce(self.key)


def nonce(key: str) -> str:
    """A short, stable token for a notice key, for platforms that de-duplicate sends by
    a client nonce (Discord: at most 25 characters)."""
    return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()[:25]


class Undeliverable(Exception):
    """A notice that can never be delivered (the person left, the recipient is a bot, the
    channel is gone): the dispatcher gives it up at once instead of retrying."""


class PartlyDelivered(Exception):
    """The message went out but a part of it did not (a chart the platform would not
    take): sending it again would repeat the message, so it counts as sent, with why."""

    def __init__(self, reason: str, posted: tuple[str, str] | None = None) -> None:
        super().__init__(reason)
        self.posted = posted


class Messenger(Protocol):
    """Delivers notices on one platform.

    A messenger may also offer ``async def delivered(self, to, reply) -> bool``:
    whether a notice (by ``to.key``) already reached the platform. The dispatcher
    asks it before sending again a notice whose sender died mid-send, so a crash
    between the platform's answer and our commit does not send it twice.
    """

    platform: str

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        """Deliver privately to one person; raise to have it retried later,
        ``RetryAfter`` when the platform asks to wait, or ``Undeliverable`` when it
        never can be."""

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> tuple[str, str] | None:
        """Post in a channel or a thread — or, when ``to.edit`` names a message, redraw
        that card with ``reply.card``; raise as ``send_direct`` does. Returns (channel
        id, message id) of a new post where the platform says."""
