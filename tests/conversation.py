"""Drive the bot like people in a chat, through the console adapter."""

from __future__ import annotations

import json
from typing import Any

from adapters.console import ConsoleSession
from bot.app import Lodestar


class Chat:
    """A scripted conversation; every reply and delivered notice is kept as JSON."""

    def __init__(self, app: Lodestar, workspace: str = "acme") -> None:
        self.app = app
        self.out: list[dict[str, Any]] = []
        self.session = ConsoleSession(
            app,
            lambda line: self.out.append(json.loads(line)),
            as_json=True,
            workspace=workspace,
        )

    def as_(self, name: str, admin: bool = False) -> Chat:
        self.session.feed(f":as {name}" + (" admin" if admin else ""))
        return self

    def say(self, line: str) -> list[dict[str, Any]]:
        """Type one line; returns what came back for it."""
        start = len(self.out)
        self.session.feed(line)
        return self.out[start:]

    def reply(self, line: str) -> dict[str, Any]:
        """Type one line that gets exactly one reply; return it."""
        replies = [r for r in self.say(line) if "job" not in r]
        assert len(replies) == 1, replies
        return replies[0]

    def text(self, line: str) -> str:
        return str(self.reply(line)["text"])

    @property
    def notices(self) -> list[dict[str, Any]]:
        return [r for r in self.out if r.get("job") == "ship_notice"]
