"""The reply contract between the core and every adapter."""

from __future__ import annotations

import pytest

from adapters.console.render import reply_text
from adapters.slack import render as slack_render
from bot.replies import Attachment, ItemCard, Kind, Reply

CARD = ItemCard(3, "dark mode", "new", 2, ("ux",), None, "📝 #3 logged: “dark mode”")


def test_a_kind_outside_the_declared_set_fails_here_not_for_a_user() -> None:
    with pytest.raises(ValueError, match="'surprise' is not a valid Kind"):
        Reply(text="hello", kind="surprise")  # type: ignore[arg-type]
    assert Reply(text="hello", kind="vote").kind is Kind.VOTE  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(Kind))
def test_every_adapter_renders_every_kind(kind: Kind) -> None:
    reply = Reply(
        text=f"a {kind} reply",
        private=kind is not Kind.ITEM_CREATED,
        kind=kind,
        card=CARD,
        attachments=[Attachment("x.csv", b"a,b\n", "text/csv")],
        posts_card=kind is Kind.ITEM_CREATED,
    )
    assert f"a {kind} reply" in reply_text(reply)
    blocks = slack_render.message([reply])["blocks"]
    assert any(b.get("block_id") == "card:3" for b in blocks)
    assert reply.to_json()["kind"] == str(kind)
