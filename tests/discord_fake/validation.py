"""The limits Discord enforces on what a bot sends, answered as Discord answers them.

An adapter that overflows a limit (2,000 characters of content, 25 embed fields, 5 buttons per
row, 25 autocomplete choices, a capitalised slash-command name…) gets the same
``400 {"code": 50035, "message": "Invalid Form Body", "errors": …}`` from the fake as from
Discord, so such a bug shows up in tests rather than in a guild.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .routes import ApiError

INVALID_FORM_BODY = 50035
EMPTY_MESSAGE = 50006

_CHAT_INPUT_NAME = re.compile(r"^[-_'\w]{1,32}$")


class FormErrors:
    """Collects field errors into Discord's nested ``errors`` shape."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.errors
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: Sequence[str | int], value: Any, limit: int) -> None:
        if isinstance(value, str | list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def required(self, path: Sequence[str | int], value: Any) -> None:
        if value in (None, ""):
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def raise_if_any(self) -> None:
        if self.errors:
            raise ApiError(400, INVALID_FORM_BODY, "Invalid Form Body", self.errors)


def _check_embeds(errors: FormErrors, embeds: Sequence[Mapping[str, Any]]) -> None:
    errors.max_length(["embeds"], list(embeds), 10)
    total = 0
    for i, embed in enumerate(embeds):
        at = ["embeds", i]
        for key, limit in (("title", 256), ("description", 4096)):
            errors.max_length([*at, key], embed.get(key), limit)
            total += len(embed.get(key) or "")
        fields = embed.get("fields") or []
        errors.max_length([*at, "fields"], fields, 25)
        for j, fld in enumerate(fields):
            errors.required([*at, "fields", j, "name"], fld.get("name"))
            errors.required([*at, "fields", j, "value"], fld.get("value"))
            errors.max_length([*at, "fields", j, "name"], fld.get("name"), 256)
            errors.max_length([*at, "fields", j, "value"], fld.get("value"), 1024)
            total += len(fld.get("name") or "") + len(fld.get("value") or "")
        footer = (embed.get("footer") or {}).get("text")
        author = (embed.get("author") or {}).get("name")
        errors.max_length([*at, "footer", "text"], footer, 2048)
        errors.max_length([*at, "author", "name"], author, 256)
        total += len(footer or "") + len(author or "")
    if total > 6000:
        errors.add(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _check_components(errors: FormErrors, rows: Sequence[Mapping[str, Any]]) -> None:
    errors.max_length(["components"], list(rows), 5)
    for i, row in enumerate(rows):
        if row.get("type") != 1:
            continue  # components v2 layouts are not modelled
        children = row.get("components") or []
        if not children:
            errors.add(
                ["components", i, "components"],
                "BASE_TYPE_MIN_LENGTH",
                "Must be 1 or more in length.",
            )
        errors.max_length(["components", i, "components"], children, 5)
        for j, child in enumerate(children):
            at = ["components", i, "components", j]
            errors.max_length([*at, "label"], child.get("label"), 80)
            errors.max_length([*at, "custom_id"], child.get("custom_id"), 100)
            is_link = child.get("type") == 2 and child.get("style") in (5, 6)
            if not is_link:
                errors.required([*at, "custom_id"], child.get("custom_id"))
            elif child.get("style") == 5:
                errors.required([*at, "url"], child.get("url"))


def check_message(body: Mapping[str, Any], *, files: int = 0, edit: bool = False) -> None:
    """A message create or edit body: Discord's size limits, and no empty new message."""
    errors = FormErrors()
    errors.max_length(["content"], body.get("content"), 2000)
    _check_embeds(errors, body.get("embeds") or [])
    _check_components(errors, body.get("components") or [])
    errors.raise_if_any()
    has_something = any(
        body.get(key) for key in ("content", "embeds", "components", "sticker_ids", "poll")
    )
    if not edit and not has_something and not files:
        raise ApiError(400, EMPTY_MESSAGE, "Cannot send an empty message")


def check_autocomplete(data: Mapping[str, Any]) -> None:
    errors = FormErrors()
    choices = data.get("choices")
    if not isinstance(choices, list):
        errors.required(["data", "choices"], None)
    else:
        errors.max_length(["data", "choices"], choices, 25)
        for i, choice in enumerate(choices):
            name = choice.get("name")
            errors.required(["data", "choices", i, "name"], name)
            errors.max_length(["data", "choices", i, "name"], name, 100)
            errors.max_length(["data", "choices", i, "value"], choice.get("value"), 100)
    errors.raise_if_any()


def check_modal(data: Mapping[str, Any]) -> None:
    errors = FormErrors()
    errors.required(["data", "custom_id"], data.get("custom_id"))
    errors.max_length(["data", "custom_id"], data.get("custom_id"), 100)
    errors.required(["data", "title"], data.get("title"))
    errors.max_length(["data", "title"], data.get("title"), 45)
    rows = data.get("components") or []
    if not rows:
        errors.add(["data", "components"], "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")
    errors.max_length(["data", "components"], rows, 5)
    errors.raise_if_any()


def check_commands(commands: Sequence[Mapping[str, Any]]) -> None:
    """An application-command bulk overwrite: names, descriptions, options, counts."""
    errors = FormErrors()
    seen: set[tuple[int, str]] = set()
    counts = {1: 0, 2: 0, 3: 0}
    for i, command in enumerate(commands):
        kind = int(command.get("type") or 1)
        name = command.get("name") or ""
        counts[kind] = counts.get(kind, 0) + 1
        errors.required([i, "name"], name)
        errors.max_length([i, "name"], name, 32)
        if kind == 1:
            if name and (not _CHAT_INPUT_NAME.match(name) or name != name.lower()):
                errors.add(
                    [i, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            errors.required([i, "description"], command.get("description"))
            errors.max_length([i, "description"], command.get("description"), 100)
        elif command.get("description"):
            errors.add(
                [i, "description"],
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have description",
            )
        if (kind, name) in seen:
            errors.add(
                [i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Duplicate name: {name}"
            )
        seen.add((kind, name))
        options = command.get("options") or []
        errors.max_length([i, "options"], options, 25)
        optional_seen = False
        for j, option in enumerate(options):
            at = [i, "options", j]
            oname = option.get("name") or ""
            if not _CHAT_INPUT_NAME.match(oname) or oname != oname.lower():
                errors.add(
                    [*at, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            errors.required([*at, "description"], option.get("description"))
            errors.max_length([*at, "description"], option.get("description"), 100)
            if option.get("required") and optional_seen:
                errors.add(
                    [*at, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            optional_seen = optional_seen or not option.get("required")
    if counts[1] > 100 or counts[2] > 5 or counts[3] > 5:
        errors.add(
            [], "APPLICATION_COMMANDS_TOO_MANY", "Maximum number of application commands reached"
        )
    errors.raise_if_any()
