"""Block Kit's size limits, checked the way Slack refuses a message or view that breaks
them (``invalid_blocks``), so a test sees what a real workspace would refuse.

Lengths are counted in UTF-16 code units, as Slack's clients count them: an emoji
outside the BMP is two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Blocks in a message, and in a modal or Home tab view.
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
#: chat.postMessage / chat.update ``text``; Slack answers ``msg_too_long`` past it.
MESSAGE_TEXT = 40_000
#: Text of a section, of a context element, of a header; a button's label and value.
SECTION_TEXT = 3_000
SECTION_FIELD = 2_000
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3_000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2_000
BLOCK_ID = 255
VIEW_TITLE = 24
INPUT_LABEL = 2_000
PRIVATE_METADATA = 3_000


def units(text: str) -> int:
    """A text's length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def problems(blocks: Any, max_blocks: int) -> list[str]:
    """Why Slack would refuse these blocks; empty when it would take them."""
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    out = []
    if len(blocks) > max_blocks:
        out.append(f"{len(blocks)} blocks (at most {max_blocks})")
    for i, block in enumerate(blocks):
        out += [f"block {i}: {p}" for p in _block(block)]
    return out


def view_problems(view: Mapping[str, Any]) -> list[str]:
    out = problems(view.get("blocks") or [], VIEW_BLOCKS)
    for key in ("title", "submit", "close"):
        if isinstance(view.get(key), Mapping):
            out += _text(view[key], VIEW_TITLE, f"view {key}")
    if units(str(view.get("private_metadata") or "")) > PRIVATE_METADATA:
        out.append("private_metadata too long")
    return out


def _text(obj: Any, limit: int, where: str) -> list[str]:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
        return [f"{where}: not a text object"]
    length = units(obj["text"])
    if length == 0:
        return [f"{where}: empty text"]
    return [f"{where}: {length} characters (at most {limit})"] if length > limit else []


def _block(block: Any) -> list[str]:
    if not isinstance(block, Mapping):
        return ["not an object"]
    out = []
    if units(str(block.get("block_id") or "")) > BLOCK_ID:
        out.append("block_id too long")
    kind = block.get("type")
    if kind == "section":
        if "text" in block:
            out += _text(block["text"], SECTION_TEXT, "section text")
        for field in block.get("fields") or []:
            out += _text(field, SECTION_FIELD, "section field")
    elif kind == "header":
        out += _text(block.get("text"), HEADER_TEXT, "header")
    elif kind == "context":
        elements = block.get("elements") or []
        if len(elements) > CONTEXT_ELEMENTS:
            out.append(f"{len(elements)} context elements (at most {CONTEXT_ELEMENTS})")
        for element in elements:
            if element.get("type") in ("mrkdwn", "plain_text"):
                out += _text(element, CONTEXT_TEXT, "context text")
    elif kind == "actions":
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                out += _text(element.get("text"), BUTTON_TEXT, "button text")
                if units(str(element.get("value") or "")) > BUTTON_VALUE:
                    out.append("button value too long")
    elif kind == "input":
        out += _text(block.get("label"), INPUT_LABEL, "input label")
    return out
