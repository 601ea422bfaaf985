"""One entry point for every adapter: commands, reactions, shortcuts and forms.

An adapter turns a platform event into one of these calls and renders the
replies it gets back. User mistakes come back as one private sentence; nothing
else escapes as an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from bot import emoji
from bot.context import Caller, ChatMessage
from bot.errors import UserError
from bot.export import to_csv
from bot.feedback import grammar as g
from bot.feedback import presenter as present
from bot.feedback.service import FeedbackService
from bot.replies import Attachment, Form, Reply, private
from bot.text import defang

log = logging.getLogger(__name__)

FEEDBACK_FORM = Form(
    kind="feedback",
    title="Log feedback",
    label="What would make the product better?",
    submit_command="feedback",
)


class CommandHandler(Protocol):
    def __call__(self, caller: Caller, text: str) -> list[Reply]: ...


class Router:
    def __init__(self, feedback: FeedbackService) -> None:
        self.feedback = feedback
        self.commands: dict[str, CommandHandler] = {"feedback": self._feedback}
        self.metric_keys: Callable[[], set[str] | None] = lambda: None

    def mount(self, name: str, handler: CommandHandler) -> None:
        """Add a top-level command (``/nsm``) served by another part of the core."""
        self.commands[name] = handler

    # -- entry points --------------------------------------------------------

    def command(self, caller: Caller, name: str, text: str) -> list[Reply]:
        handler = self.commands.get(name.lstrip("/").lower())
        if handler is None:
            return [
                private(
                    f"I don't know /{defang(name.lstrip('/'))}; try /feedback help.", kind="error"
                )
            ]
        return self._guard(lambda: handler(caller, text))

    def line(self, caller: Caller, line: str) -> list[Reply]:
        """A whole slash-command line, as typed: ``/feedback vote #3``."""
        name, _, rest = line.lstrip().partition(" ")
        return self.command(caller, name, rest)

    def reaction(
        self, caller: Caller, name: str, message: ChatMessage, *, added: bool
    ) -> list[Reply]:
        """Someone added or removed a reaction on ``message``."""
        kind = emoji.canonical(name)
        if kind == emoji.CAPTURE and added:
            return self._guard(
                lambda: present.captured(
                    self.feedback.capture(caller, message.text, via="reaction", message=message)
                )
            )
        if kind == emoji.VOTE:

            def vote() -> list[Reply]:
                outcome = self.feedback.vote_on_message(
                    caller, message.channel, message.message_id, add=added
                )
                return [] if outcome is None else [present.voted(outcome)]

            return self._guard(vote)
        return []

    def capture_message(
        self, caller: Caller, message: ChatMessage, via: str = "shortcut"
    ) -> list[Reply]:
        """A "Log as feedback" shortcut or context-menu action on someone's message."""
        return self._guard(
            lambda: present.captured(
                self.feedback.capture(caller, message.text, via=via, message=message)
            )
        )

    def submit_form(self, caller: Caller, form_kind: str, text: str) -> list[Reply]:
        if form_kind != FEEDBACK_FORM.kind:
            return [private("That form is no longer supported.", kind="error")]
        return self._guard(
            lambda: present.captured(self.feedback.capture(caller, text, via="form"))
        )

    def vote_button(self, caller: Caller, number: int) -> list[Reply]:
        return self._guard(lambda: [present.voted(self.feedback.vote(caller, number))])

    def _guard(self, call: Callable[[], list[Reply]]) -> list[Reply]:
        try:
            return call()
        except UserError as error:
            return [private(error.message, kind="error")]
        except Exception:
            log.exception("command failed")
            return [
                private(
                    "Something went wrong on our side; nothing was changed. Please try again.",
                    kind="error",
                )
            ]

    # -- /feedback -------------------------------------------------------------

    def _feedback(self, caller: Caller, text: str) -> list[Reply]:
        command = g.parse_feedback(text)
        svc = self.feedback
        match command:
            case g.AskForText():
                return [
                    private(
                        "What's your feedback? Type it after /feedback, e.g. "
                        "/feedback export to PDF.",
                        kind="form",
                        form=FEEDBACK_FORM,
                    )
                ]
            case g.Help():
                return [private(g.HELP, kind="help")]
            case g.Capture(text=body):
                return present.captured(svc.capture(caller, body))
            case g.VoteCmd(number=n, add=add):
                return [present.voted(svc.vote(caller, n, add=add))]
            case g.Top(limit=limit):
                return [
                    present.listing(
                        f"Top {limit} by demand:",
                        svc.top(caller, limit),
                        "The board is empty: log the first item with /feedback.",
                    )
                ]
            case g.ListCmd(status=status, tag=tag, page=page):
                return [present.page(svc.list(caller, status, tag, page), status, tag)]
            case g.Search(words=words):
                quoted = defang(" ".join(words))
                return [
                    present.listing(
                        f"Items matching “{quoted}”:",
                        svc.search(caller, words),
                        f"Nothing matches “{quoted}”.",
                    )
                ]
            case g.Show(number=n):
                return [present.detail(svc.show(caller, n))]
            case g.Who(number=n):
                return [present.backers(svc.who(caller, n))]
            case g.Merge(number=a, into=b):
                item, target = svc.merge(caller, a, b)
                return [
                    private(
                        f"🔗 #{a} merged into #{b}: #{b} now has demand "
                        f"{target.demand}. Undo with /feedback unmerge #{a}.",
                        kind="merge",
                        card=present.card(target),
                    )
                ]
            case g.Unmerge(number=n):
                item, parent = svc.unmerge(caller, n)
                return [
                    private(
                        f"✂️ #{n} unmerged from #{parent.number}: #{n} has demand "
                        f"{item.demand}, #{parent.number} has {parent.demand}.",
                        kind="unmerge",
                        card=present.card(item),
                    )
                ]
            case g.SetStatus(number=n, status=status, note=note):
                view, previous = svc.set_status(caller, n, status, note)
                group = f" (the group of #{n})" if view.number != n else ""
                return [
                    private(
                        f"#{view.number}{group} is now {status} (was {previous}).",
                        kind="status",
                        card=present.card(view),
                    )
                ]
            case g.Ship(number=n, note=note):
                return [present.shipped(svc.ship(caller, n, note))]
            case g.Tag(number=n, add=add, remove=remove):
                view = svc.tag(caller, n, add, remove)
                tags = ", ".join(view.tags) or "no tags"
                return [private(f"#{n} tags: {tags}.", kind="tag", card=present.card(view))]
            case g.Link(number=n, metric=metric):
                view = svc.link(caller, n, metric, self.metric_keys())
                what = f"linked to {metric}" if metric else "no longer linked to a metric"
                return [private(f"#{n} is {what}.", kind="link")]
            case g.Mute(muted=muted):
                changed = svc.set_muted(caller, muted)
                state = "won't get" if muted else "will get"
                again = "" if changed else " (no change)"
                return [private(f"You {state} ship notices by DM{again}.", kind="mute")]
            case g.Connect(code=code):
                return [self._connect(caller, code)]
            case g.BoardJoin(code=code):
                return [self._board_join(caller, code)]
            case g.Export():
                views = svc.board_items(caller, admin_only=True)
                csv_text = to_csv(views)
                return [
                    private(
                        f"The board as CSV: {len(views)} items.",
                        kind="export",
                        attachments=[
                            Attachment(
                                "feedback.csv", csv_text.encode(), "text/csv", "Feedback board"
                            )
                        ],
                    )
                ]
            case g.Announce(channel=channel):
                svc.set_announce_channel(caller, channel)
                text = (
                    f"Ship announcements will be posted in {defang(channel)}."
                    if channel
                    else "Ship announcements are off."
                )
                return [private(text, kind="announce")]
            case g.Admins(add=add, remove=remove):
                admins = svc.admins(caller, add, remove)
                listed = ", ".join(defang(a) for a in admins) or "none configured"
                return [
                    private(f"Board admins (besides platform admins): {listed}.", kind="admins")
                ]
        raise AssertionError(f"unhandled command {command!r}")

    def _connect(self, caller: Caller, code: str | None) -> Reply:
        new_code, other = self.feedback.connect(caller, code)
        if code is None:
            return private(
                f"Your one-time code is {new_code}. Within 15 minutes, type "
                f"/feedback connect {new_code} on your other platform to count as one person.",
                kind="connect",
                data={"code": new_code},
            )
        return private(
            f"Connected: you and your {other} account now count as one person.", kind="connect"
        )

    def _board_join(self, caller: Caller, code: str | None) -> Reply:
        name, moved = self.feedback.board_join(caller, code)
        if code is None:
            return private(
                f"Board join code: {name}. An admin of the other workspace types "
                f"/feedback board join {name} there within 15 minutes; their feedback then "
                "lands on this board.",
                kind="board_join",
                data={"code": name},
            )
        renumbered = ""
        if moved:
            first, last = moved
            renumbered = (
                f" Your item is now #{first}."
                if first == last
                else f" Your items are now #{first}–#{last}."
            )
        return private(
            f"This workspace now shares {defang(name)}'s board.{renumbered}", kind="board_join"
        )
