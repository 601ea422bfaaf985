"""A console conversation: chat lines, slash commands and ``:`` directives.

Directives: ``:as NAME [admin]``, ``:workspace NAME``, ``:channel NAME``,
``:react EMOJI TARGET``, ``:unreact EMOJI TARGET`` (TARGET is ``#N``, the
item's card, or ``^``, the last plain message), ``:run-jobs [ISO-TIME]``,
``:# comment``.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shlex
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from itertools import count

from adapters.console.messenger import ConsoleMessenger
from adapters.console.render import reply_text
from bot.app import Lodestar
from bot.clock import FixedClock
from bot.context import Caller, ChatMessage
from bot.errors import UserError
from bot.nsm.periods import PeriodError, check_moment, parse_moment
from bot.replies import Reply

PLATFORM = "console"
JOBS_AHEAD = timedelta(days=3650)  # :run-jobs may look ten years ahead, no further


def run_mark() -> str:
    """A mark unique to this run: its start in microseconds, base 36, plus 3 random
    characters for two runs started in the same microsecond."""
    micros, digits = time.time_ns() // 1000, "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while micros:
        micros, rest = divmod(micros, 36)
        out = digits[rest] + out
    return out + "".join(secrets.choice(digits) for _ in range(3))


class ConsoleSession:
    def __init__(
        self,
        app: Lodestar,
        write: Callable[[str], None] = print,
        *,
        as_json: bool = False,
        user: str = "you",
        admin: bool = False,
        workspace: str = "console",
        channel: str = "general",
        ask: Callable[[str], str] | None = None,
    ) -> None:
        self.app = app
        self.write = write
        self.as_json = as_json
        self.user, self.admin = user, admin
        self.workspace, self.channel = workspace, channel
        self.ask = ask  # a prompt for forms; None when scripted
        # Messages and cards of every console run share one database: their ids
        # carry this run's mark, so a later run's "m1" is never an earlier run's.
        self.run_mark = run_mark()
        self.messenger = ConsoleMessenger(write, as_json, self.shown)
        self.messages: dict[str, ChatMessage] = {}
        self.cards: dict[tuple[str, int], str] = {}
        self.last_message: str | None = None
        self.replies: list[Reply] = []
        self._ids = count(1)

    # -- identity --------------------------------------------------------------

    @property
    def caller(self) -> Caller:
        return Caller(
            platform=PLATFORM,
            workspace=self.workspace,
            user=self.user.lower(),
            name=self.user,
            channel=self.channel,
            is_platform_admin=self.admin,
            workspace_name=self.workspace,
        )

    def shown(self, message_id: str) -> str:
        """This run's message ids as typed (``m3``); an earlier run's in full."""
        return message_id.removeprefix(f"{self.run_mark}.")

    # -- input -----------------------------------------------------------------

    def run(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.feed(line)

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        if not line.strip():
            return
        if line.startswith(":"):
            self._directive(line[1:].strip())
        elif line.startswith("/"):
            self._note(f"[#{self.channel}] {self.user}: {line}")
            self._show(self.app.router.line(self.caller, line))
            self.run_jobs()
        else:
            short = f"m{next(self._ids)}"
            message_id = f"{self.run_mark}.{short}"
            self.messages[short] = ChatMessage(
                channel=self.channel,
                message_id=message_id,
                author=self.user.lower(),
                author_name=self.user,
                text=line,
                permalink=f"console://{self.workspace}/{self.channel}/{message_id}",
            )
            self.last_message = short
            self._note(f"[#{self.channel}] {self.user}: {line}   ({short})")

    def _directive(self, text: str) -> None:
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        if not words or words[0].startswith("#"):
            return
        name, args = words[0].lower(), words[1:]
        if name == "as" and args:
            self.user = args[0]
            self.admin = len(args) > 1 and args[1].lower() == "admin"
        elif name == "workspace" and len(args) == 1:
            self.workspace = args[0]
        elif name == "channel" and len(args) == 1:
            self.channel = args[0].lstrip("#")
        elif name in ("react", "unreact") and len(args) == 2:
            self._react(args[0], args[1], added=name == "react")
        elif name == "run-jobs" and len(args) <= 1:
            self.run_jobs(args[0] if args else None, watch=True)
        else:
            self._error(f"Unknown directive :{text} — see lodestar console --help.")

    def _react(self, emoji: str, target: str, *, added: bool) -> None:
        message = self._target(target)
        if message is None:
            return
        self._note(
            f"[#{self.channel}] {self.user} {'reacts' if added else 'unreacts'} {emoji} on {target}"
        )
        self._show(self.app.router.reaction(self.caller, emoji, message, added=added))
        self.run_jobs()

    def _target(self, target: str) -> ChatMessage | None:
        if target == "^":
            if self.last_message is None:
                self._error("There is no plain message to react to yet.")
                return None
            return self.messages[self.last_message]
        if re.fullmatch(r"#[0-9]{1,9}", target):  # ASCII digits: "#²" is no item number
            number = int(target[1:])
            key = (self.workspace, number)
            if key not in self.cards:
                self._post_card(number)
            if key not in self.cards:
                self._error(f"There is no item #{number} on this board.")
                return None
            return self.messages[self.cards[key]]
        if target in self.messages:
            return self.messages[target]
        self._error(f"“{target}” is not a reaction target: use #N or ^.")
        return None

    # -- output ----------------------------------------------------------------

    def _show(self, replies: list[Reply]) -> None:
        for reply in replies:
            if reply.form is not None and self.ask is not None:
                text = self.ask(reply.form.label + " ")
                self._show(self.app.router.submit_form(self.caller, reply.form.kind, text))
                continue
            self.replies.append(reply)
            if self.as_json:
                out = reply.to_json()
                if reply.thread_of:
                    out["thread_of"] = self.shown(reply.thread_of)
                self.write(json.dumps(out, ensure_ascii=False))
            else:
                self.write(reply_text(reply))
            if reply.card is not None and reply.posts_card:
                self._remember_card(reply.card.number)

    def _post_card(self, number: int) -> None:
        """Show item ``number``'s card in the channel, as if posted now (if it exists)."""
        self._remember_card(number)

    def _remember_card(self, number: int) -> None:
        short = f"card{next(self._ids)}"
        message_id = f"{self.run_mark}.{short}"
        if not self.app.router.remember_card(self.caller, number, self.channel, message_id):
            return
        self.messages[short] = ChatMessage(
            channel=self.channel,
            message_id=message_id,
            author="lodestar",
            author_name="Lodestar",
            text=f"#{number}",
        )
        self.cards[(self.workspace, number)] = short

    def _note(self, text: str) -> None:
        if not self.as_json:
            self.write(text)

    def _error(self, text: str) -> None:
        if self.as_json:
            self.write(json.dumps({"kind": "error", "text": text, "private": True}))
        else:
            self.write(f"  ! {text}")

    # -- jobs ------------------------------------------------------------------

    def run_jobs(self, at: str | None = None, *, watch: bool = False) -> None:
        """Deliver what the outbox holds; with ``watch`` (``:run-jobs``), first run every
        job due as of now, or as of ISO time ``at`` (the clock set to it): each
        workspace's digest and weekly chart, and the alert rules."""
        clock = self.app.clock
        if at is not None:
            try:
                when = check_moment(parse_moment(at), clock.now(), ahead=JOBS_AHEAD)
            except PeriodError as error:
                self._error(str(error))
                return
            clock = FixedClock(when)
        if watch:
            try:
                self.app.run_jobs(clock.now())
            except UserError as error:
                self._error(error.message)
        dispatcher = self.app.dispatcher({PLATFORM: self.messenger}, clock)
        asyncio.run(dispatcher.run_once())
