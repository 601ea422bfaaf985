"""Core replies as Slack messages: mrkdwn text and Block Kit.

Every piece of text the core hands over is escaped (``&``, ``<``, ``>``) before it
reaches Slack, so nothing a user wrote can become ``<!channel>``, ``<!here>`` or
``<@U…>``: the core's replies carry no Slack markup of their own.
"""

from __future__ import annotations

import json
from typing import Any

from bot.feedback.presenter import STATUS_ICON
from bot.replies import Form, ItemCard, Reply

#: action_id of the card buttons; the value is the item number.
VOTE, WHO, SHOW = "lodestar_vote", "lodestar_who", "lodestar_show"
OPEN_FORM = "lodestar_open_form"
FORM_CALLBACK = "lodestar_form"
FORM_BLOCK, FORM_INPUT = "feedback", "text"

_SECTION_LIMIT = 3000
_MAX_BLOCKS = 50
_TEXT_LIMIT = 39_000


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Text as a person typed it: Slack delivers their ``&``, ``<`` and ``>`` as entities
    (slash commands, messages, modal values). ``&amp;`` last, so ``&amp;lt;`` is ``&lt;``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain(text: str, limit: int = 75) -> dict[str, Any]:
    """A plain_text object (never parsed for mentions), clipped to ``limit``."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text or " ", "emoji": True}


def _sections(text: str) -> list[dict[str, Any]]:
    """Escaped mrkdwn sections of at most 3,000 characters, split at line ends."""
    chunks: list[str] = []
    current = ""
    for line in escape(text).splitlines() or [""]:
        while len(line) > _SECTION_LIMIT:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:_SECTION_LIMIT])
            line = line[_SECTION_LIMIT:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > _SECTION_LIMIT:
            chunks.append(current)
            current = line
        else:
            current = candidate
    chunks.append(current)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk or " "}} for chunk in chunks
    ]


def card_status(card: ItemCard) -> str:
    icon = STATUS_ICON.get(card.status, "")
    merged = f" · merged into #{card.merged_into}" if card.merged_into else ""
    tags = "".join(f" `{escape(t)}`" for t in card.tags)
    return f"{icon} {escape(card.status)} · 👍 demand *{card.demand}*{merged}{tags}"


def card_buttons(number: int) -> dict[str, Any]:
    value = str(number)
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
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": head[:_SECTION_LIMIT]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": card_status(card)}]},
        card_buttons(card.number),
    ]


def card_message(card: ItemCard, headline: str | None = None) -> dict[str, Any]:
    """``text`` + ``blocks`` of a card, for chat.postMessage / chat.update."""
    text = headline or f"#{card.number} {card.text}"
    return {"text": escape(text)[:_TEXT_LIMIT], "blocks": card_blocks(card, headline)}


def reply_blocks(reply: Reply) -> list[dict[str, Any]]:
    """One reply as blocks: its text, then its card's status line and buttons."""
    if reply.card is not None and reply.posts_card:
        return card_blocks(reply.card, reply.text)
    blocks = _sections(reply.text)
    if reply.card is not None:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": card_status(reply.card)}]}
        )
        blocks.append(card_buttons(reply.card.number))
    return blocks


def message(replies: list[Reply]) -> dict[str, Any]:
    """Several replies as one message (``text`` fallback and ``blocks``)."""
    blocks: list[dict[str, Any]] = []
    for reply in replies:
        if blocks:
            blocks.append({"type": "divider"})
        blocks.extend(reply_blocks(reply))
    if len(blocks) > _MAX_BLOCKS:
        blocks = blocks[: _MAX_BLOCKS - 1] + _sections("… (more in /feedback list)")
    text = "\n".join(escape(r.text) for r in replies)
    return {"text": text[:_TEXT_LIMIT] or " ", "blocks": blocks}


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
