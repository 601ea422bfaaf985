"""Suggestions while someone types a command (Discord's autocomplete): the
subcommands, then the open items a subcommand that takes ``#N`` could mean."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.context import Caller
from bot.feedback.views import ItemView
from bot.text import clip, defang

LIMIT = 25  # Discord shows at most 25 choices
_LABEL, _VALUE = 100, 100  # and cuts names and values at 100 characters

FEEDBACK = {
    "vote": "vote #N — count your vote",
    "unvote": "unvote #N — take it back",
    "top": "top [n] — the board by demand",
    "list": "list [status] [tag:x] [page]",
    "search": "search <words>",
    "show": "show #N — an item in full",
    "who": "who #N — the people behind it",
    "mute": "mute — no ship DMs",
    "unmute": "unmute — ship DMs again",
    "connect": "connect [code] — one person across platforms",
    "help": "help — every command",
    "merge": "merge #A into #B (admins)",
    "unmerge": "unmerge #A (admins)",
    "status": "status #N planned|in-progress|declined|new (admins)",
    "ship": "ship #N [note] (admins)",
    "tag": "tag #N +x -y (admins)",
    "link": "link #N <metric> (admins)",
    "export": "export — the board as CSV (admins)",
    "announce": "announce <channel>|off (admins)",
    "admins": "admins [add|remove <user>] (admins)",
    "board": "board join [code] (admins)",
}
TAKES_ITEM = ("vote", "unvote", "show", "who", "merge", "unmerge", "status", "ship", "tag", "link")
NSM = {
    "why": "why [week] — why the north star moved",
    "chart": "chart [weeks] — the weekly chart",
    "tree": "tree — the metric tree",
    "history": "history <metric> [weeks]",
    "alerts": "alerts — open alerts",
    "digest": "digest — today's digest",
    "record": "record <metric> <value> [period] (admins)",
    "channel": "channel <channel>|off (admins)",
    "help": "help — every command",
}


@dataclass(frozen=True)
class Completion:
    label: str  # what the person sees
    value: str  # what their text becomes when they pick it


def _choice(label: str, value: str) -> Completion:
    return Completion(clip(defang(label), _LABEL), value[:_VALUE])


def complete(
    command: str,
    text: str,
    caller: Caller,
    items: Callable[[Caller, str], list[ItemView]],
    metrics: Callable[[], set[str] | None],
) -> list[Completion]:
    """Choices for ``/command text``; ``items(caller, typed)`` finds open items."""
    words = text.split()
    typing_first = not words or (len(words) == 1 and not text.endswith(" "))
    table = FEEDBACK if command == "feedback" else NSM if command == "nsm" else {}
    if typing_first:
        typed = words[0].lower() if words else ""
        return [
            _choice(label, name + " ") for name, label in table.items() if name.startswith(typed)
        ][:LIMIT]
    head = words[0].lower()
    if command == "feedback" and head in TAKES_ITEM:
        before = text[: len(text) - len(text.split(" ")[-1])]  # everything but the word typed
        typed = "" if text.endswith(" ") else text.split(" ")[-1]
        return [
            _choice(f"#{v.number} {v.text} (demand {v.demand})", f"{before}#{v.number}")
            for v in items(caller, typed.lstrip("#"))
        ][:LIMIT]
    if command == "nsm" and head in ("history", "record") and len(words) <= 2:
        typed = "" if text.endswith(" ") or len(words) == 1 else words[1].lower()
        keys = sorted(k for k in (metrics() or set()) if k.startswith(typed))
        return [_choice(k, f"{head} {k}") for k in keys][:LIMIT]
    return []
