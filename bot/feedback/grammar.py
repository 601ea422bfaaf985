"""The ``/feedback`` grammar, parsed once for every adapter.

A subcommand is recognized only when its arguments parse; otherwise the whole
text is feedback, so ``/feedback vote for dark mode`` logs an item. But a line
that starts with a command word and carries an item number (``merge #1 #2``,
``status #1 done``), or only numbers (``top 100``), is an attempt at that command
that went wrong: it gets the command's usage, privately, and is not logged. Text
wrapped in quotes is always feedback (``/feedback "merge #1 #2 is confusing"``).
An argument that starts with ``#`` but is no item number is a mistake worth
pointing out (``vote #abc``), not feedback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import BadInput, BadItemNumber
from bot.nsm.keys import RESERVED, is_metric_key

STATUSES = ("new", "planned", "in-progress", "shipped", "declined")
SETTABLE_STATUSES = ("new", "planned", "in-progress", "declined")
_STATUS_ALIASES = {"in_progress": "in-progress", "inprogress": "in-progress", "wip": "in-progress"}

_NUMBER = re.compile(r"#?([0-9]{1,9})")
_DIGITS = re.compile(r"[0-9]{1,6}")
_TAG = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
_CODE = re.compile(r"[A-Za-z0-9-]{4,20}")
_CHANNEL = re.compile(r"#?[A-Za-z0-9_.-]{1,80}|<#[A-Z0-9]+(\|[^>]*)?>")


@dataclass(frozen=True)
class Command:
    """Base class of every parsed command."""


@dataclass(frozen=True)
class Capture(Command):
    text: str


@dataclass(frozen=True)
class AskForText(Command):
    pass


@dataclass(frozen=True)
class Help(Command):
    pass


@dataclass(frozen=True)
class VoteCmd(Command):
    number: int
    add: bool


@dataclass(frozen=True)
class Top(Command):
    limit: int


@dataclass(frozen=True)
class ListCmd(Command):
    status: str | None
    tag: str | None
    page: int


@dataclass(frozen=True)
class Search(Command):
    words: tuple[str, ...]


@dataclass(frozen=True)
class Show(Command):
    number: int


@dataclass(frozen=True)
class Who(Command):
    number: int


@dataclass(frozen=True)
class Merge(Command):
    number: int
    into: int


@dataclass(frozen=True)
class Unmerge(Command):
    number: int


@dataclass(frozen=True)
class SetStatus(Command):
    number: int
    status: str
    note: str | None


@dataclass(frozen=True)
class Ship(Command):
    number: int
    note: str | None


@dataclass(frozen=True)
class Tag(Command):
    number: int
    add: tuple[str, ...]
    remove: tuple[str, ...]


@dataclass(frozen=True)
class Link(Command):
    number: int
    metric: str | None


@dataclass(frozen=True)
class Mute(Command):
    muted: bool


@dataclass(frozen=True)
class Connect(Command):
    code: str | None


@dataclass(frozen=True)
class BoardJoin(Command):
    code: str | None


@dataclass(frozen=True)
class Export(Command):
    pass


@dataclass(frozen=True)
class Announce(Command):
    channel: str | None


@dataclass(frozen=True)
class Admins(Command):
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


class NearMiss(BadInput):
    """A command word with arguments that do not parse but look meant for it."""

    def __init__(self, head: str, text: str) -> None:
        quoted = text if len(text) <= 80 else text[:79] + "…"
        super().__init__(
            f"That looks like /feedback {head}, but it should be: {USAGE[head]}. "
            f'To log it as feedback instead, put it in quotes: /feedback "{quoted}".'
        )
        self.head = head


_QUOTES = {'"': '"', "“": "”", "'": "'"}
_ITEM_REF = re.compile(r"#\S")  # "#1", "#12x", "#²": someone meant an item
_NUMBERISH = re.compile(r"[-+]?\d[\d.,eE+-]*")  # "100", "-1", "1e308": a number, badly


def parse_feedback(text: str) -> Command:
    stripped = text.strip()
    if not stripped:
        return AskForText()
    if len(stripped) > 2 and _QUOTES.get(stripped[0]) == stripped[-1]:
        return Capture(stripped[1:-1].strip() or stripped)
    words = stripped.split()
    head, args = words[0].lower(), words[1:]
    parser = _PARSERS.get(head)
    if parser is not None:
        command = parser(args, stripped)
        if command is not None:
            return command
        if _attempted(head, args):
            raise NearMiss(head, stripped)
    return Capture(stripped)


def _attempted(head: str, args: list[str]) -> bool:
    """Arguments that only make sense for the command: an item reference, or nothing
    but numbers."""
    if head == "announce":  # a channel, or nothing at all: meant for the command
        return not args or args[0].startswith(("#", "<"))
    if not args or head not in USAGE:
        return False
    if any(_ITEM_REF.match(a) for a in args) or all(_NUMBERISH.fullmatch(a) for a in args):
        return True
    # The board's views: a number or a tag where one goes is an attempt too.
    return head in ("top", "list") and any(
        _NUMBERISH.fullmatch(a) or a.lower().startswith("tag:") for a in args
    )


def _number(token: str) -> int | None:
    """An item number, None when the token is no attempt at one, BadItemNumber
    when it starts with ``#`` but is malformed."""
    match = _NUMBER.fullmatch(token)
    if match:
        return int(match.group(1))
    if token.startswith("#"):
        raise BadItemNumber(token)
    return None


def _rest(text: str, skip: int) -> str | None:
    parts = text.split(None, skip)
    return parts[skip].strip() if len(parts) > skip and parts[skip].strip() else None


def _exact(command: Command):  # type: ignore[no-untyped-def]
    return lambda args, _text: command if not args else None


def _vote(add: bool):  # type: ignore[no-untyped-def]
    def parse(args: list[str], _text: str) -> Command | None:
        if len(args) == 1 and (n := _number(args[0])) is not None:
            return VoteCmd(n, add)
        return None

    return parse


def _one_number(make):  # type: ignore[no-untyped-def]
    def parse(args: list[str], _text: str) -> Command | None:
        if len(args) == 1 and (n := _number(args[0])) is not None:
            return make(n)
        return None

    return parse


def _top(args: list[str], _text: str) -> Command | None:
    if not args:
        return Top(10)
    if len(args) == 1 and _DIGITS.fullmatch(args[0]) and 1 <= int(args[0]) <= 50:
        return Top(int(args[0]))
    return None


def _list(args: list[str], _text: str) -> Command | None:
    status = tag = None
    page = 1
    for arg in args:
        low = _STATUS_ALIASES.get(arg.lower(), arg.lower())
        if low in STATUSES or low in ("open", "all"):
            if status is not None:
                return None
            status = low
        elif low.startswith("tag:") and _TAG.fullmatch(low[4:]):
            tag = low[4:]
        elif _DIGITS.fullmatch(arg) and 1 <= int(arg) <= 10_000:
            page = int(arg)
        else:
            return None
    return ListCmd(status, tag, page)


def _search(args: list[str], _text: str) -> Command | None:
    return Search(tuple(args)) if args else None


def _merge(args: list[str], _text: str) -> Command | None:
    if len(args) == 3 and args[1].lower() == "into":
        a, b = _number(args[0]), _number(args[2])
        if a is not None and b is not None:
            return Merge(a, b)
    return None


def _status(args: list[str], text: str) -> Command | None:
    if len(args) >= 2 and args[0].startswith("#") and (n := _number(args[0])) is not None:
        status = _STATUS_ALIASES.get(args[1].lower(), args[1].lower())
        if status in SETTABLE_STATUSES:
            return SetStatus(n, status, _rest(text, 3))
        if status == "shipped":
            raise BadInput(f"Use /feedback ship #{n} [note] to ship: it tells everyone behind it.")
    return None


def _ship(args: list[str], text: str) -> Command | None:
    # "#" is required here: "/feedback ship 2 factor auth" is feedback, not a ship.
    if args and args[0].startswith("#") and (n := _number(args[0])) is not None:
        return Ship(n, _rest(text, 2))
    return None


def _tag(args: list[str], _text: str) -> Command | None:
    if len(args) < 2 or (n := _number(args[0])) is None:
        return None
    add, remove = [], []
    for arg in args[1:]:
        sign, name = arg[:1], arg[1:].lower()
        if sign not in "+-" or not sign or not _TAG.fullmatch(name):
            return None
        (add if sign == "+" else remove).append(name)
    return Tag(n, tuple(add), tuple(remove))


def _link(args: list[str], _text: str) -> Command | None:
    if len(args) == 2 and (n := _number(args[0])) is not None:
        metric = args[1]
        if metric.lower() in RESERVED:
            return Link(n, None)
        if is_metric_key(metric):
            return Link(n, metric)
    return None


def _connect(args: list[str], _text: str) -> Command | None:
    if not args:
        return Connect(None)
    if len(args) == 1 and _CODE.fullmatch(args[0]):
        return Connect(args[0])
    return None


def _board(args: list[str], _text: str) -> Command | None:
    if args and args[0].lower() == "join":
        if len(args) == 1:
            return BoardJoin(None)
        if len(args) == 2 and _CODE.fullmatch(args[1]):
            return BoardJoin(args[1])
    return None


def parse_channel(token: str) -> str | None:
    """A channel as typed: ``#general``, ``general`` or a platform's mention (``<#C1|x>``,
    ``<#123>``), kept as the platform needs it; None when it is no channel."""
    if not _CHANNEL.fullmatch(token):
        return None
    return token if token.startswith("<") else token.lstrip("#")


def _announce(args: list[str], _text: str) -> Command | None:
    if len(args) == 1:
        if args[0].lower() == "off":
            return Announce(None)
        channel = parse_channel(args[0])
        if channel is not None:
            return Announce(channel)
    return None


def _admins(args: list[str], _text: str) -> Command | None:
    if not args:
        return Admins()
    if len(args) >= 2 and args[0].lower() in ("add", "remove"):
        names = tuple(a.lstrip("@") for a in args[1:])
        return Admins(add=names) if args[0].lower() == "add" else Admins(remove=names)
    return None


_PARSERS = {
    "help": _exact(Help()),
    "vote": _vote(True),
    "unvote": _vote(False),
    "top": _top,
    "list": _list,
    "search": _search,
    "show": _one_number(Show),
    "who": _one_number(Who),
    "merge": _merge,
    "unmerge": _one_number(Unmerge),
    "status": _status,
    "ship": _ship,
    "tag": _tag,
    "link": _link,
    "mute": _exact(Mute(True)),
    "unmute": _exact(Mute(False)),
    "connect": _connect,
    "board": _board,
    "export": _exact(Export()),
    "announce": _announce,
    "admins": _admins,
}

#: How each command with arguments is written (what a near miss is told).
USAGE = {
    "vote": "/feedback vote #N",
    "unvote": "/feedback unvote #N",
    "top": "/feedback top [n], n from 1 to 50",
    "list": "/feedback list [status] [tag:x] [page]",
    "show": "/feedback show #N",
    "who": "/feedback who #N",
    "merge": "/feedback merge #A into #B",
    "unmerge": "/feedback unmerge #A",
    "status": "/feedback status #N planned|in-progress|declined|new [note]",
    "ship": "/feedback ship #N [note]",
    "tag": "/feedback tag #N +tag -tag",
    "link": "/feedback link #N <metric>|none",
    "announce": "/feedback announce <channel>|off",
}

HELP = """\
/feedback <text> — log feedback (or react 💡 on any message)
/feedback vote #N · unvote #N — one vote per person (or react 👍 on the card)
/feedback top [n] — the board by demand
/feedback list [status] [tag:x] [page] — filter the board (status: open, new, planned, \
in-progress, shipped, declined, all)
/feedback search <words> · show #N · who #N — find an item, see it, see who is behind it
/feedback mute · unmute — stop or start ship notices by DM
/feedback connect [code] — count as one person across Slack and Discord
Admins: merge #A into #B · unmerge #A · status #N planned|in-progress|declined|new [note] · \
ship #N [note] · tag #N +x -y · link #N <metric> · export · announce <channel>|off · \
admins [add|remove <user>] · board join [code]"""
