"""Card buttons (Vote, Who, Show), the same on every platform: which item a press is
about, or the one private sentence that refuses it.

A card's button carries its item's number, but numbers change when a board joins
another, and a shared channel shows several boards' cards: so the card itself is asked
first. Only when no board knows the card yet (it was just posted) does the number on
the button count.
"""

from __future__ import annotations

import re

from bot.context import Caller
from bot.replies import Kind, Reply, private
from bot.router import Router

NOT_AN_ITEM = private("That button does not point at an item of this board.", kind=Kind.ERROR)
FOREIGN_CARD = private(
    "That card belongs to another workspace's board; its buttons work there.", kind=Kind.ERROR
)
_VALUE = re.compile(r"#?([1-9][0-9]{0,8})")


def button_number(value: object) -> int | None:
    """The item number a button carries, or None (``abc``, ``-3``, twenty digits)."""
    found = _VALUE.fullmatch(str(value or ""))
    return int(found.group(1)) if found else None


def item_of_button(
    router: Router, caller: Caller, card_at: tuple[str, str] | None, value: object
) -> int | Reply:
    """The item a press on the card at ``card_at`` (channel, message id) acts on, for the
    caller's board; a refusal when the card is another board's or the value no number."""
    if card_at is not None:
        owner = router.card_owner(caller, *card_at)
        if owner.number is not None:
            return owner.number
        if owner.foreign:
            return FOREIGN_CARD
    number = button_number(value)
    return NOT_AN_ITEM if number is None else number
