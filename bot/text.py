"""Safe echoing of user-written text.

User text is stored verbatim, but whenever the bot shows it again, broadcast and
person mentions are broken with a zero-width space so no platform turns them
into a ping: ``<!channel>``, ``<!here>``, ``<@U123>`` (Slack), ``@everyone``,
``@here``, ``<@123>``, ``<@&role>`` (Discord).
"""

from __future__ import annotations

import re
import unicodedata

from bot.errors import BadInput, TextTooLong

ZWSP = "\u200b"
MAX_FEEDBACK_CHARS = 4000

#: C0 and C1 control characters but tab and newline: no database stores NUL alike.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_SLACK_SPECIAL = re.compile(r"<([!@#])")
# No word boundary: Discord pings "@everyone_" and "@here1" too.
_AT_BROADCAST = re.compile(r"@(everyone|here|channel)", re.IGNORECASE)


def defang(text: str) -> str:
    """Return ``text`` with every mention and broadcast made inert."""
    text = _SLACK_SPECIAL.sub(lambda m: f"<{ZWSP}{m.group(1)}", text)
    return _AT_BROADCAST.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)


def clean(text: str) -> str:
    """Text as it may enter the core: control characters (NUL included) removed,
    the same on every database; a carriage return before a newline goes too."""
    return _CONTROL.sub("", text)


def feedback_text(text: str) -> str:
    """The text of a new item, or one clear refusal: empty, invisible or too long."""
    text = text.strip()
    if not "".join(c for c in text if unicodedata.category(c) != "Cf").strip():
        raise BadInput("There is nothing to log: write the feedback after /feedback.")
    if len(text) > MAX_FEEDBACK_CHARS:
        raise TextTooLong(len(text), MAX_FEEDBACK_CHARS)
    return text


def clip(text: str, limit: int = 120) -> str:
    """One line, at most ``limit`` characters, for lists and notices."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def quote(text: str, limit: int = 120) -> str:
    """User text as shown in a reply: one safe, clipped line."""
    return defang(clip(text, limit))


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"
