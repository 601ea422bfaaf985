"""Safe echoing of user-written text.

User text is stored verbatim, but whenever the bot shows it again, broadcast and
person mentions are broken with a zero-width space so no platform turns them
into a ping: ``<!channel>``, ``<!here>``, ``<@U123>`` (Slack), ``@everyone``,
``@here``, ``<@123>``, ``<@&role>`` (Discord).
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
MAX_FEEDBACK_CHARS = 4000

_SLACK_SPECIAL = re.compile(r"<([!@#])")
_AT_BROADCAST = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)


def defang(text: str) -> str:
    """Return ``text`` with every mention and broadcast made inert."""
    text = _SLACK_SPECIAL.sub(lambda m: f"<{ZWSP}{m.group(1)}", text)
    return _AT_BROADCAST.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)


def clip(text: str, limit: int = 120) -> str:
    """One line, at most ``limit`` characters, for lists and notices."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def quote(text: str, limit: int = 120) -> str:
    """User text as shown in a reply: one safe, clipped line."""
    return defang(clip(text, limit))


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"
