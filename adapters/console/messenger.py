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
        self.sent: list[dict[str, object]] = []
        self._keys: set[str] = set()

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        self._emit(
            to.key,
            reply,
            {
                "job": to.job or reply.kind,
                "to": to.name,
                "workspace": to.workspace,
                "text": reply.text,
            },
            f"  → DM to {to.name}: {_indented(reply.text)}",
        )

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> None:
        thread = self.shown(to.thread) if to.thread else None
        where = f"#{to.channel}" + (f" (thread of {thread})" if thread else "")
        if to.edit is not None:
            where += f" (card {self.shown(to.edit)} redrawn)"
        self._emit(
            to.key,
            reply,
            {
                "job": to.job or reply.kind,
                "channel": to.channel,
                "thread": thread,
                "workspace": to.workspace,
                "text": reply.text,
            },
            f"  → {where}: {_indented(reply.text)}",
        )

    async def delivered(self, to: Recipient | ChannelPost, reply: Reply) -> bool:
        """Whether this run already printed the notice (a terminal keeps no history)."""
        return bool(to.key) and to.key in self._keys

    def _emit(self, key: str, reply: Reply, record: dict[str, object], line: str) -> None:
        if reply.attachments:
            record["attachments"] = [
                {"filename": a.filename, "mime": a.mime, "bytes": len(a.content)}
                for a in reply.attachments
            ]
            line += "".join(
                f"\n    📎 {a.filename} ({len(a.content):,} bytes)" for a in reply.attachments
            )
        self.sent.append(record)
        self._keys.add(key)
        self.write(json.dumps(record, ensure_ascii=False) if self.as_json else line)


def _indented(text: str) -> str:
    """A post's later lines under its first, as the console shows replies."""
    return "\n    ".join(text.splitlines() or [""])
