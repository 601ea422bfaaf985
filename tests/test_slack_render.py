"""Block Kit rendering within Slack's limits: every text cut on a character boundary,
after escaping, never inside an ``&…;`` entity (checked against the limits the Web API
stand-in enforces)."""

from __future__ import annotations

import re

import pytest

from adapters.slack import render
from adapters.slack.home import home_view
from bot.feedback.views import ItemView
from bot.replies import ItemCard, Kind, Reply
from bot.router import Home
from tests.slack_fake.block_kit import MESSAGE_BLOCKS, problems, units, view_problems

#: Escaped text: every ``&`` starts one of Slack's three entities.
ESCAPED = re.compile(r"(?:[^&]|&(?:amp|lt|gt);)*", re.DOTALL)
MANY_TAGS = tuple(f"t{n:03d}-" + "x" * 25 for n in range(100))


def texts(blocks: list[dict]) -> list[str]:
    """Every mrkdwn text in the blocks (sections and context elements)."""
    out = []
    for block in blocks:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        if block["type"] == "context":
            out += [e["text"] for e in block["elements"] if e["type"] == "mrkdwn"]
    return out


@pytest.mark.parametrize(
    "text",
    ["&" * 5_000, "a&" * 3_000, "<>" * 2_000, "😀" * 4_000, "e\u0301" * 3_000, "x" * 2_999 + "&"],
)
def test_clip_cuts_within_the_limit_and_never_inside_an_entity_or_a_character(text: str) -> None:
    clipped = render.clip(render.escape(text), 3_000)

    assert units(clipped) <= 3_000 and clipped.endswith("…")
    assert ESCAPED.fullmatch(clipped)
    assert not clipped[:-1].endswith("\u200d") and not re.search(r"e…$", clipped)


def test_short_text_is_left_alone() -> None:
    assert render.clip("R&amp;D", 3_000) == "R&amp;D"


def test_a_card_with_many_tags_keeps_every_text_within_its_limit() -> None:
    card = ItemCard(7, "&" * 300, "planned", 12, MANY_TAGS, None, "📝 #7 logged: “" + "&" * 200)

    for blocks in (render.card_blocks(card), render.card_blocks(card, card.headline)):
        assert problems(blocks, MESSAGE_BLOCKS) == []
        assert all(ESCAPED.fullmatch(t) for t in texts(blocks))
    message = render.card_message(card, card.headline)
    assert ESCAPED.fullmatch(message["text"])


def test_a_long_reply_full_of_entities_splits_into_whole_sections() -> None:
    reply = Reply(text="#1 " + "&" * 4_000 + "\n" + "<" * 4_000, kind=Kind.SHOW)

    body = render.message([reply])

    assert problems(body["blocks"], MESSAGE_BLOCKS) == []
    sections = texts(body["blocks"])
    assert len(sections) > 2 and all(ESCAPED.fullmatch(t) for t in sections)
    assert "".join(sections).count("&amp;") == 4_000
    assert ESCAPED.fullmatch(body["text"]) and units(body["text"]) <= 40_000


def test_app_home_with_many_tags_everywhere_is_a_view_slack_takes() -> None:
    from datetime import UTC, datetime

    views = [
        ItemView(n, "&" * 300, "new", 3, 1, "ana", datetime(2026, 1, 1, tzinfo=UTC), MANY_TAGS)
        for n in range(1, 11)
    ]
    view = home_view(Home(views, views[:5], views[:5], "⭐ " + "&" * 5_000))

    assert view_problems(view) == []
    assert all(ESCAPED.fullmatch(t) for t in texts(view["blocks"]))
