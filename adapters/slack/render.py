"""Core replies as Slack messages: mrkdwn text and Block Kit.

Every piece of text the core hands over is escaped (``&``, ``<``, ``>``) before it
reaches Slack, so nothing a user wrote can become ``<!channel>``, ``<!here>`` or
``<@U…>``: the core's replies carry no Slack markup of their own.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from adapters.common.buttons import button_value
from bot.feedback.presenter import STATUS_ICON
from bot.replies import Form, ItemCard, Reply

#: action_id of the card buttons; the value is the item's number and id (``12@3456``).
VOTE, WHO, SHOW = "lodestar_vote", "lodestar_who", "lodestar_show"
OPEN_FORM = "lodestar_open_form"
FORM_CALLBACK = "lodestar_form"
FORM_BLOCK, FORM_INPUT = "feedback", "text"

#: Block Kit's limits, in UTF-16 code units as Slack counts them.
SECTION_TEXT = 3_000
CONTEXT_TEXT = 3_000
MESSAGE_TEXT = 40_000
MESSAGE_BLOCKS = 50
_ENTITY_CUT = re.compile(r"&[a-z]{0,3}$")
_JOINERS = frozenset("\u200d\ufe0e\ufe0f")


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Text as a person typed it: Slack delivers their ``&``, ``<`` and ``>`` as entities
    (slash commands, messages, modal values). ``&amp;`` last, so ``&amp;lt;`` is ``&lt;``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def units(text: str) -> int:
    """A text's length as Slack counts it: UTF-16 code units (an emoji may be two)."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """How many characters of escaped ``text`` fit in ``limit`` units, cut neither inside
    an ``&…;`` entity nor between a character and its combining marks or joiners."""
    if len(text) * 2 <= limit:
        return len(text)
    n = used = 0
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            break
        n += 1
    if n == len(text):
        return n
    entity = _ENTITY_CUT.search(text, 0, n)
    whole = entity.start() if entity else n
    cut = whole
    while cut > 0 and (
        unicodedata.combining(text[cut]) or text[cut] in _JOINERS or text[cut - 1] == "\u200d"
    ):
        cut -= 1
    return cut or whole  # a run of combining marks longer than the limit: cut it anyway


def clip(text: str, limit: int, mark: str = "…") -> str:
    """Escaped ``text`` within ``limit`` units, ending in ``mark`` when something was cut."""
    if len(text) * 2 <= limit or units(text) <= limit:
        return text
    return text[: _fit(text, limit - units(mark))] + mark


def plain(text: str, limit: int = 75) -> dict[str, Any]:
    """A plain_text object (never parsed for mentions), clipped to ``limit``."""
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def section(escaped: str) -> dict[str, Any]:
    """One mrkdwn section of already escaped text, clipped to its limit."""
    text = clip(escaped, SECTION_TEXT) or " "
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _chunks(escaped: str, limit: int) -> list[str]:
    """Escaped text in pieces of at most ``limit`` units: whole lines where they fit,
    long lines cut on character and entity boundaries."""
    chunks: list[str] = []
    current = ""
    for line in escaped.splitlines() or [""]:
        while units(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            n = _fit(line, limit)
            chunks.append(line[:n])
            line = line[n:]
        candidate = f"{current}\n{line}" if current else line
        if units(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    chunks.append(current)
    return chunks


def _sections(text: str) -> list[dict[str, Any]]:
    """``text`` escaped, as mrkdwn sections within Slack's limit, split at line ends."""
    return [section(chunk) for chunk in _chunks(escape(text), SECTION_TEXT)]


def card_status(card: ItemCard) -> str:
    icon = STATUS_ICON.get(card.status, "")
    merged = f" · merged into #{card.merged_into}" if card.merged_into else ""
    tags = "".join(f" `{escape(t)}`" for t in card.tags)
    return f"{icon} {escape(card.status)} · 👍 demand *{card.demand}*{merged}{tags}"


def status_line(card: ItemCard) -> dict[str, Any]:
    """The context block under a card's text: status, demand, merge, tags."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(card_status(card), CONTEXT_TEXT)}],
    }


def card_buttons(number: int, item_id: int = 0) -> dict[str, Any]:
    value = button_value(number, item_id)
    return {
        "type": "actions",
        "block_id": f"card:{number}",
        "elements": [
            {
                "type": "button",
                "action_id": VOTE,
                "text": plain("👍 Vote"),
                "value": value,
                "style": "primary",
            },
            {"type": "button", "action_id": WHO, "text": plain("Who"), "value": value},
            {"type": "button", "action_id": SHOW, "text": plain("Show"), "value": value},
        ],
    }


def card_blocks(card: ItemCard, headline: str | None = None) -> list[dict[str, Any]]:
    """An item's card: what it says, status and demand, and Vote / Who / Show."""
    head = escape(headline) if headline else f"*#{card.number}* {escape(card.text)}"
    return [section(head), status_line(card), card_buttons(card.number, card.item_id)]


def card_message(card: ItemCard, headline: str | None = None) -> dict[str, Any]:
    """``text`` + ``blocks`` of a card, for chat.postMessage / chat.update."""
    text = headline or f"#{card.number} {card.text}"
    return {"text": clip(escape(text), MESSAGE_TEXT), "blocks": card_blocks(card, headline)}


def reply_blocks(reply: Reply) -> list[dict[str, Any]]:
    """One reply as blocks: its text, then its card's status line and buttons."""
    if reply.card is not None and reply.posts_card:
        return card_blocks(reply.card, reply.text)
    blocks = _sections(reply.text)
    if reply.card is not None:
        blocks += [status_line(reply.card), card_buttons(reply.card.number, reply.card.item_id)]
    return blocks


def message(replies: list[Reply]) -> dict[str, Any]:
    """Several replies as one message (``text`` fallback and ``blocks``)."""
    blocks: list[dict[str, Any]] = []
    for reply in replies:
        if blocks:
            blocks.append({"type": "divider"})
        blocks.extend(reply_blocks(reply))
    if len(blocks) > MESSAGE_BLOCKS:
        blocks = blocks[: MESSAGE_BLOCKS - 1] + _sections("… (more in /feedback list)")
    text = "\n".join(escape(r.text) for r in replies)
    return {"text": clip(text, MESSAGE_TEXT) or " ", "blocks": blocks}


def modal(form: Form, channel: str | None) -> dict[str, Any]:
    """The modal a Form asks for; the channel rides along in private_metadata."""
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": json.dumps({"kind": form.kind, "channel": channel}),
        "title": plain(form.title, 24),
        "submit": plain("Log it", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            {
                "type": "input",
                "block_id": FORM_BLOCK,
                "label": plain(form.label, 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": FORM_INPUT,
                    "multiline": True,
                    "max_length": 3000,
                },
            }
        ],
    }
