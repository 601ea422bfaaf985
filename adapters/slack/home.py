"""The App Home tab: the top of the board, the viewer's own items and votes, the north star."""

from __future__ import annotations

from typing import Any

from adapters.slack import render
from bot.feedback.presenter import card
from bot.feedback.views import ItemView
from bot.router import Home

TOP = 10


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": render.plain(text, 150)}


def _items(section: str, views: list[ItemView], empty: str) -> list[dict[str, Any]]:
    """Cards of one section; block ids carry the section, since an item may appear in
    several (top and yours) and Slack wants block ids unique within a view."""
    if not views:
        return [{"type": "context", "elements": [{"type": "mrkdwn", "text": empty}]}]
    out: list[dict[str, Any]] = []
    for view in views:
        for block in render.card_blocks(card(view)):
            if "block_id" in block:
                block = {**block, "block_id": f"{section}:{block['block_id']}"}
            out.append(block)
    return out


def home_view(home: Home) -> dict[str, Any]:
    """The App Home view of a person's ``Home`` (``Router.home``)."""
    north_star = home.north_star or "No north star metric is set up yet."
    blocks: list[dict[str, Any]] = [
        _header("⭐ North star"),
        render.section(render.escape(north_star)),
        {
            "type": "actions",
            "block_id": "home",
            "elements": [
                {
                    "type": "button",
                    "action_id": render.OPEN_FORM,
                    "text": render.plain("📝 Log feedback"),
                    "style": "primary",
                }
            ],
        },
        {"type": "divider"},
        _header(f"🏆 Top {TOP} by demand"),
        *_items("top", home.top, "The board is empty: log the first item with /feedback."),
        {"type": "divider"},
        _header("🙋 You asked for"),
        *_items("asked", home.asked, "Nothing yet: /feedback <text>, or react 💡 on a message."),
        _header("👍 You vote for"),
        *_items("voted", home.voted, "No votes yet: react 👍 on an item's card or press Vote."),
    ]
    return {"type": "home", "callback_id": "lodestar_home", "blocks": blocks[:100]}
