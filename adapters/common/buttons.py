"""Card buttons (Vote, Who, Show), the same on every platform: which item a press is
about, or the one private sentence that refuses it.

A card's button carries its item's number and id, but numbers change when a board joins
another, and a shared channel shows several boards' cards: so the card itself is asked
first; a card no board knows (a private answer, App Home, one just posted) is read by
the item's id, which never changes, and must be on the caller's board.
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
_VALUE = re.compile(r"#?([1-9][0-9]{0,8})(?:@([1-9][0-9]{0,17}))?")


def button_value(card_number: int, item_id: int) -> str:
    """What a card's buttons carry: the number people see and the item's id, which a
    board join never changes (``12@3456``; older cards carry the number alone)."""
    return f"{card_number}@{item_id}" if item_id else str(card_number)


def button_number(value: object) -> int | None:
    """The item number a button carries, or None (``abc``, ``-3``, twenty digits)."""
    found = _VALUE.fullmatch(str(value or ""))
    return int(found.group(1)) if found else None


def button_item_id(value: object) -> int | None:
    found = _VALUE.fullmatch(str(value or ""))
    return int(found.group(2)) if found and found.group(2) else None


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
    if number is None:
        return NOT_AN_ITEM
    item_id = button_item_id(value)
    if item_id is not None:  # a private or App Home card: its item by id, on this board
        current = router.number_of(caller, item_id)
        return FOREIGN_CARD if current is None else current
    return number
