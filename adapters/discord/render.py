"""Core replies as Discord messages: content, embeds, card buttons and files.

User text reaches Discord already defanged by the core, with markdown escaped
here, and every send carries ``AllowedMentions.none()``: nothing a user wrote can
ping anyone. Every text is cut to Discord's limits on a character boundary.
"""

from __future__ import annotations

import io
import re
from typing import Any

import discord

from adapters.common.buttons import button_value
from bot.feedback.presenter import STATUS_ICON
from bot.replies import Attachment, Form, ItemCard, Reply
from bot.text import clip

#: custom_id of a card button: what it does and to which item (no state kept anywhere).
BUTTON = re.compile(
    r"lodestar:(?P<verb>vote|who|show):(?P<number>[0-9]{1,9})(?:@(?P<item>[0-9]{1,18}))?"
)
BUTTON_LABELS = {"vote": "👍 Vote", "who": "Who", "show": "Show"}
FORM_ID = "lodestar:form:feedback"
NO_PINGS = discord.AllowedMentions.none()

CONTENT_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
TITLE_LIMIT = 256
EMBEDS_LIMIT = 10
_COLOURS = {
    "new": 0x5865F2,
    "planned": 0xFEE75C,
    "in-progress": 0xEB459E,
    "shipped": 0x57F287,
    "declined": 0x99AAB5,
}


def text(value: str) -> str:
    """User-facing text with Discord's markdown made literal."""
    return discord.utils.escape_markdown(value)


def cut(value: str, limit: int) -> str:
    """At most ``limit`` characters; an escape backslash is never left dangling."""
    if len(value) <= limit:
        return value
    head = value[: limit - 1]
    if head.endswith("\\") and not head.endswith("\\\\"):
        head = head[:-1]
    return head + "…"


def status_line(card: ItemCard) -> str:
    icon = STATUS_ICON.get(card.status, "")
    merged = f" · merged into #{card.merged_into}" if card.merged_into else ""
    tags = "".join(f" `{t}`" for t in card.tags)  # tags are [a-z0-9_-] only
    return f"{icon} {card.status} · 👍 demand **{card.demand}**{merged}{tags}"


def card_embed(card: ItemCard) -> discord.Embed:
    return discord.Embed(
        title=cut(f"#{card.number} {text(clip(card.text, 200))}", TITLE_LIMIT),
        description=cut(status_line(card), DESCRIPTION_LIMIT),
        colour=_COLOURS.get(card.status, 0x5865F2),
    )


class CardButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=BUTTON):
    """Vote / Who / Show on a card. The custom id says everything, so a card posted
    before a restart still works: discord.py matches it against ``BUTTON``."""

    def __init__(self, verb: str, value: str) -> None:
        style = discord.ButtonStyle.primary if verb == "vote" else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(
                label=BUTTON_LABELS[verb], style=style, custom_id=f"lodestar:{verb}:{value}"
            )
        )
        self.verb, self.value = verb, value

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Button[Any],
        match: re.Match[str],
        /,
    ) -> CardButton:
        value = match["number"] + (f"@{match['item']}" if match["item"] else "")
        return cls(match["verb"], value)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.client.lodestar_bot.on_card_button(interaction, self.verb, self.value)


def card_view(card: ItemCard) -> discord.ui.View:
    """The buttons of a card. Stopped: discord.py keeps no copy per message (the
    dynamic item answers every click)."""
    view = discord.ui.View(timeout=None)
    value = button_value(card.number, card.item_id)
    for verb in ("vote", "who", "show"):
        view.add_item(CardButton(verb, value))
    view.stop()
    return view


def files(attachments: list[Attachment]) -> list[discord.File]:
    return [discord.File(io.BytesIO(a.content), filename=a.filename) for a in attachments]


def card_message(card: ItemCard, headline: str | None = None) -> dict[str, Any]:
    """A posted card: its headline, the card as an embed, and its buttons."""
    return {
        "content": cut(text(headline or card.headline), CONTENT_LIMIT),
        "embed": card_embed(card),
        "view": card_view(card),
        "allowed_mentions": NO_PINGS,
    }


def message(replies: list[Reply], *, with_files: bool = True) -> dict[str, Any]:
    """Several replies as one message; the first card's buttons come along."""
    content = "\n\n".join(text(r.text) for r in replies)
    embeds: list[discord.Embed] = []
    if len(content) > CONTENT_LIMIT:
        embeds.append(discord.Embed(description=cut(content, DESCRIPTION_LIMIT)))
        content = ""
    cards = [r.card for r in replies if r.card is not None]
    embeds += [card_embed(c) for c in cards]
    out: dict[str, Any] = {
        "content": content or None,
        "embeds": embeds[:EMBEDS_LIMIT],
        "allowed_mentions": NO_PINGS,
    }
    if cards:
        out["view"] = card_view(cards[0])
    attachments = [a for r in replies for a in r.attachments]
    if with_files and attachments:
        out["files"] = files(attachments)
    return out


def reply_message(reply: Reply) -> dict[str, Any]:
    """One reply: a card post when it is the item's card, else a message."""
    if reply.card is not None and reply.posts_card:
        out = card_message(reply.card, reply.text)
        if reply.attachments:
            out["files"] = files(reply.attachments)
        return out
    return message([reply])


class FeedbackForm(discord.ui.Modal):
    """``/feedback`` alone: the text in a form. Its submission is answered by
    ``DiscordBot.on_interaction`` from the submitted data alone, so a form sent before
    a restart (or filled in slowly) is still logged."""

    def __init__(self, form: Form) -> None:
        super().__init__(title=cut(form.title, 45), timeout=900, custom_id=FORM_ID)
        self.kind = form.kind
        self.field: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=cut(form.label, 45), style=discord.TextStyle.long, max_length=4000
        )
        self.add_item(self.field)


def submitted_text(data: Any) -> str | None:
    """The first text input's value in a modal submission's data, however nested."""
    if isinstance(data, dict):
        if isinstance(data.get("value"), str):
            return data["value"]
        for key in ("components", "component"):
            found = submitted_text(data.get(key))
            if found is not None:
                return found
    if isinstance(data, list):
        for part in data:
            found = submitted_text(part)
            if found is not None:
                return found
    return None
