"""Plain-terminal rendering of core replies."""

from __future__ import annotations

from bot.replies import ItemCard, Reply


def card_line(card: ItemCard) -> str:
    merged = f" · merged into #{card.merged_into}" if card.merged_into else ""
    tags = "".join(f" [{t}]" for t in card.tags)
    return (
        f"┃ #{card.number} {card.text} · {card.status} · demand {card.demand}{merged}{tags}"
        "   [👍 Vote] [Who] [Show]"
    )


def reply_text(reply: Reply) -> str:
    who = "bot (only you)" if reply.private else "bot"
    lines = reply.text.splitlines() or [""]
    out = [f"  {who}: {lines[0]}"] + [f"    {line}" for line in lines[1:]]
    if reply.card and reply.posts_card:
        out.append("    " + card_line(reply.card))
    for attachment in reply.attachments:
        out.append(f"    📎 {attachment.filename} ({len(attachment.content):,} bytes)")
    return "\n".join(out)
