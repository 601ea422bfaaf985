"""Delivers outbox notices by printing them."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.notify.ports import ChannelPost, Recipient
from bot.replies import Reply


class ConsoleMessenger:
    platform = "console"

    def __init__(
        self,
        write: Callable[[str], None],
        as_json: bool,
        shown: Callable[[str], str] = lambda message_id: message_id,
    ) -> None:
        self.write = write
        self.as_json = as_json
        self.shown = shown  # how a message id is shown (this run's ids, short)
        self.delivered: list[dict[str, object]] = []

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        self._emit(
            {
                "job": to.job or reply.kind,
                "to": to.name,
                "workspace": to.workspace,
                "text": reply.text,
            },
            f"  → DM to {to.name}: {reply.text}",
        )

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> None:
        thread = self.shown(to.thread) if to.thread else None
        where = f"#{to.channel}" + (f" (thread of {thread})" if thread else "")
        self._emit(
            {
                "job": to.job or reply.kind,
                "channel": to.channel,
                "thread": thread,
                "workspace": to.workspace,
                "text": reply.text,
            },
            f"  → {where}: {reply.text}",
        )

    def _emit(self, record: dict[str, object], line: str) -> None:
        self.delivered.append(record)
        self.write(json.dumps(record, ensure_ascii=False) if self.as_json else line)
