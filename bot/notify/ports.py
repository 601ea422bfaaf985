"""The port every adapter implements to deliver what the outbox holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.replies import Reply


@dataclass(frozen=True)
class Recipient:
    platform: str
    workspace: str  # the platform's workspace id
    user: str  # the platform's user id
    name: str


@dataclass(frozen=True)
class ChannelPost:
    platform: str
    workspace: str
    channel: str
    thread: str | None = None  # post as a reply in this message's thread


class Undeliverable(Exception):
    """A notice that can never be delivered (the person left, the recipient is a bot, the
    channel is gone): the dispatcher gives it up at once instead of retrying."""


class Messenger(Protocol):
    platform: str

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        """Deliver privately to one person; raise to have it retried later,
        ``Undeliverable`` when it never can be."""

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> tuple[str, str] | None:
        """Post in a channel or a thread; raise to have it retried later, ``Undeliverable``
        when it never can be. Returns (channel id, message id) where the platform says."""
