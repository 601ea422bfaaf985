"""The one door into the core for every adapter: commands, reactions, shortcuts,
forms, card buttons, and the bookkeeping of posted cards.

An adapter turns a platform event into one of these calls and renders the
replies it gets back. Text is cleaned here, at the edge (control characters
removed), the same for every platform and database. User mistakes come back as
one private sentence; nothing else escapes as an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import Protocol

from bot import emoji
from bot.completion import Completion, complete
from bot.context import SYSTEM_USER, Caller, ChatMessage
from bot.errors import UserError
from bot.export import to_csv
from bot.feedback import grammar as g
from bot.feedback import presenter as present
from bot.feedback.board import BoardService, CardOwner
from bot.feedback.identity import IdentityService
from bot.feedback.merges import MergeService
from bot.feedback.presenter import FEEDBACK_FORM
from bot.feedback.settings import WorkspaceSettings
from bot.feedback.views import ItemView
from bot.replies import PostedCard, Reply
from bot.scope import ADMIN
from bot.text import clean, defang

log = logging.getLogger(__name__)

__all__ = ["FEEDBACK_FORM", "CardOwner", "CommandHandler", "Completion", "Home", "Router"]


class CommandHandler(Protocol):
    def __call__(self, caller: Caller, text: str) -> list[Reply]: ...


@dataclass(frozen=True)
class Home:
    """A person's view of the board (Slack's App Home, a Discord panel)."""

    top: list[ItemView]
    asked: list[ItemView]
    voted: list[ItemView]
    north_star: str | None


class Router:
    def __init__(
        self,
        board: BoardService,
        merges: MergeService,
        identity: IdentityService,
        settings: WorkspaceSettings,
    ) -> None:
        self.board = board
        self.merges = merges
        self.identity = identity
        self.settings = settings
        self.commands: dict[str, CommandHandler] = {"feedback": self._feedback}
        self.metric_keys: Callable[[], set[str] | None] = lambda: None

    def warm_up(self, pool: Executor | None = None) -> Future[None]:
        """Prepare what the first commands would otherwise wait seconds for (each board's
        duplicate index), off the caller's thread; an adapter calls this when it starts.
        Until it is done, captures are answered without duplicate suggestions."""
        return self.board.warm_up(pool)

    def mount(self, name: str, handler: CommandHandler) -> None:
        """Add a top-level command (``/nsm``) served by another part of the core."""
        self.commands[name] = handler

    # -- entry points that answer --------------------------------------------------

    def command(self, caller: Caller, name: str, text: str, *, fast: bool = False) -> list[Reply]:
        """``/name text``. ``fast``: the platform waits for the answer (Slack: 3 s), so a
        command of seconds answers at once and does its work in a ``follow_up``."""
        name = clean(name.lstrip("/")).lower()
        handler = self.commands.get(name)
        if handler is None:
            return [present.unknown_command(name)]
        caller, text = _clean_caller(caller), clean(text)
        if fast and name == "feedback" and isinstance(g.parse_feedback(text), g.Export):
            return self._guard(lambda: self._export_later(caller))
        return self._guard(lambda: handler(caller, text))

    def _export_later(self, caller: Caller) -> list[Reply]:
        """The CSV of every item takes seconds on a big board: the right to it is checked
        now, the file comes after."""
        self.board.scopes.require(caller, ADMIN, "export the board")
        return [present.exporting(lambda: self._guard(lambda: self._export(caller)))]

    def _export(self, caller: Caller) -> list[Reply]:
        views = self.board.export(caller)
        return [present.exported(views, to_csv(views))]

    def line(self, caller: Caller, line: str) -> list[Reply]:
        """A whole slash-command line, as typed: ``/feedback vote #3``."""
        parts = line.strip().split(maxsplit=1)  # a tab or two spaces separate too
        name, rest = [*parts, "", ""][:2]
        return self.command(caller, name, rest)

    def reaction(
        self, caller: Caller, name: str, message: ChatMessage, *, added: bool
    ) -> list[Reply]:
        """Someone added or removed a reaction on ``message``."""
        kind = emoji.canonical(name)
        caller, message = _clean_caller(caller), _clean_message(message)
        if kind == emoji.CAPTURE and added:
            if not message.text.strip():
                return [present.no_text_to_log()]
            return self._guard(
                lambda: present.captured(
                    self.board.capture(caller, message.text, via="reaction", message=message)
                )
            )
        if kind == emoji.VOTE:

            def vote() -> list[Reply]:
                outcome = self.board.vote_on_message(
                    caller, message.channel, message.message_id, add=added
                )
                return [] if outcome is None else [present.voted(outcome)]

            return self._guard(vote)
        return []

    def capture_message(
        self, caller: Caller, message: ChatMessage, via: str = "shortcut"
    ) -> list[Reply]:
        """A "Log as feedback" shortcut or context-menu action on someone's message."""
        caller, message = _clean_caller(caller), _clean_message(message)
        if not message.text.strip():
            return [present.no_text_to_log()]
        return self._guard(
            lambda: present.captured(
                self.board.capture(caller, message.text, via=via, message=message)
            )
        )

    def submit_form(self, caller: Caller, form_kind: str, text: str) -> list[Reply]:
        if form_kind != FEEDBACK_FORM.kind:
            return [present.unknown_form()]
        caller, text = _clean_caller(caller), clean(text)
        return self._guard(lambda: present.captured(self.board.capture(caller, text, via="form")))

    def vote_button(self, caller: Caller, number: int) -> list[Reply]:
        caller = _clean_caller(caller)
        return self._guard(lambda: [present.voted(self.board.vote(caller, number))])

    # -- bookkeeping of posted cards (adapters call these after posting or on a click) --

    def remember_card(self, caller: Caller, number: int, channel: str, message_id: str) -> bool:
        """Item ``number``'s card was posted at (channel, message_id): reactions on it
        vote, and changes to its group redraw it. False if there is no such item."""
        return self.board.remember_card(
            caller.platform, caller.workspace, number, channel, message_id
        )

    def post_later(
        self, caller: Caller, reply: Reply, channel: str, thread: str | None = None
    ) -> bool:
        """A public reply the adapter could not post: queue it in the outbox (retried,
        recorded; an item's card is remembered once posted). False if already queued."""
        return self.board.queue_post(_clean_caller(caller), reply, channel, thread)

    def card_item(self, caller: Caller, channel: str, message_id: str) -> int | None:
        """The item a message stands for (its card or captured source) on the
        caller's board, or None."""
        return self.board.card_item(_clean_caller(caller), channel, message_id)

    def card_owner(self, caller: Caller, channel: str, message_id: str) -> CardOwner:
        """Whose card a message is: an item of the caller's board (any of its workspaces),
        another board's, or nobody's yet (just posted, not yet remembered)."""
        return self.board.card_owner(_clean_caller(caller), channel, message_id)

    def queue_redraws(self, caller: Caller, cards: list[PostedCard]) -> int:
        """Have the outbox redraw cards this process cannot (another platform's)."""
        found = [(c.platform, c.workspace, c.channel, c.message_id, c.card.item_id) for c in cards]
        return self.board.queue_redraws(_clean_caller(caller), found) if found else 0

    def number_of(self, caller: Caller, item_id: int) -> int | None:
        """The current number of an item (by its id) on the caller's board, or None."""
        return self.board.number_of(_clean_caller(caller), item_id)

    def cards_to_redraw(self, caller: Caller, reply: Reply) -> list[PostedCard]:
        """Every posted card of the groups ``reply`` changed, as each must show now."""
        if not reply.redraw:
            return []
        found = self.board.cards_of_groups(_clean_caller(caller), reply.redraw)
        return [present.posted_card(at) for at in found]

    def home(self, caller: Caller, top: int = 10, mine: int = 5) -> Home:
        caller = _clean_caller(caller)
        asked, voted = self.board.mine(caller, mine)
        north_star = None
        if "nsm" in self.commands:
            replies = self.command(caller, "nsm", "")
            north_star = "\n".join(r.text for r in replies) or None
        return Home(self.board.top(caller, top), asked, voted, north_star)

    def complete(self, caller: Caller, command: str, text: str) -> list[Completion]:
        """Suggestions while ``/command text`` is being typed; never an error."""
        try:
            caller = _clean_caller(caller)
            return complete(command, clean(text), caller, self._open_items, self.metric_keys)
        except Exception:
            log.exception("completion failed")
            return []

    def _open_items(self, caller: Caller, typed: str) -> list[ItemView]:
        if not typed:
            return self.board.top(caller, 25)
        if typed.isdecimal() and typed.isascii():
            found = [v for v in self.board.top(caller, 50) if str(v.number).startswith(typed)]
            try:
                exact = self.board.show(caller, int(typed))
            except UserError:
                return found
            return [exact, *(v for v in found if v.number != exact.number)]
        return self.board.search(caller, tuple(typed.split()))

    def _guard(self, call: Callable[[], list[Reply]]) -> list[Reply]:
        try:
            return call()
        except UserError as error:
            return [present.refused(error.message)]
        except Exception:
            log.exception("command failed")
            return [present.failed()]

    # -- /feedback -------------------------------------------------------------

    def _feedback(self, caller: Caller, text: str) -> list[Reply]:
        command = g.parse_feedback(text)
        board = self.board
        match command:
            case g.AskForText():
                return [present.ask_for_text()]
            case g.Help():
                return [present.help_text()]
            case g.Capture(text=body):
                return present.captured(board.capture(caller, body))
            case g.VoteCmd(number=n, add=add):
                return [present.voted(board.vote(caller, n, add=add))]
            case g.Top(limit=limit):
                return [
                    present.listing(
                        f"Top {limit} by demand:",
                        board.top(caller, limit),
                        "The board is empty: log the first item with /feedback.",
                    )
                ]
            case g.ListCmd(status=status, tag=tag, page=page):
                return [present.page(board.list(caller, status, tag, page), status, tag)]
            case g.Search(words=words):
                quoted = defang(" ".join(words))
                return [
                    present.listing(
                        f"Items matching “{quoted}”:",
                        board.search(caller, words),
                        f"Nothing matches “{quoted}”.",
                    )
                ]
            case g.Show(number=n):
                return [present.detail(board.show(caller, n))]
            case g.Who(number=n):
                return [present.backers(board.who(caller, n))]
            case g.Merge(number=a, into=b):
                _item, target = self.merges.merge(caller, a, b)
                return [present.merged(a, target)]
            case g.Unmerge(number=n):
                item, parent = self.merges.unmerge(caller, n)
                return [present.unmerged(item, parent)]
            case g.SetStatus(number=n, status=status, note=note):
                view, previous, cancelled = board.set_status(caller, n, status, note)
                return [present.status_changed(n, view, status, previous, cancelled)]
            case g.Ship(number=n, note=note):
                return [present.shipped(board.ship(caller, n, note))]
            case g.Tag(number=n, add=add, remove=remove):
                return [present.tagged(n, board.tag(caller, n, add, remove))]
            case g.Link(number=n, metric=metric):
                return [present.linked(n, board.link(caller, n, metric, self.metric_keys()))]
            case g.Mute(muted=muted):
                return [present.mute_set(muted, self.identity.set_muted(caller, muted))]
            case g.Connect(code=code):
                new_code, other = self.identity.connect(caller, code)
                return [
                    present.connect_code(new_code)
                    if code is None
                    else present.connected(other or "other")
                ]
            case g.BoardJoin(code=code):
                name, moved = self.identity.board_join(caller, code)
                return [
                    present.board_join_code(name)
                    if code is None
                    else present.board_joined(name, moved)
                ]
            case g.Export():
                return self._export(caller)
            case g.Announce(channel=channel):
                self.settings.set_announce_channel(caller, channel)
                return [present.announce_set(channel)]
            case g.Admins(add=add, remove=remove):
                if add or remove:
                    return [present.admins_listed(self.settings.edit_admins(caller, add, remove))]
                return [present.admins_listed(self.settings.admins(caller))]
        raise AssertionError(f"unhandled command {command!r}")


def _clean_caller(caller: Caller) -> Caller:
    cleaned = replace(caller, **_cleaned(caller, CALLER_TEXT))
    if cleaned.user == SYSTEM_USER:  # only the scheduler speaks as Lodestar itself
        cleaned = replace(cleaned, user="lodestar-system-impostor")
    return cleaned


def _clean_message(message: ChatMessage) -> ChatMessage:
    return replace(message, **_cleaned(message, MESSAGE_TEXT))


CALLER_TEXT = ("workspace", "user", "name", "channel", "workspace_name")
MESSAGE_TEXT = ("channel", "message_id", "author", "author_name", "text", "permalink")


def _cleaned(value: object, names: tuple[str, ...]) -> dict[str, str]:
    """The text fields of an adapter's value, cleaned (those that are set)."""
    return {n: clean(v) for n in names if isinstance(v := getattr(value, n), str)}
