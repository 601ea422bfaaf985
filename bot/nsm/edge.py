"""What outside data may bring in: checked once, at the edge, the same for every database.

PostgreSQL cannot store U+0000 in text, JSON has no NaN or Infinity, Python's
JSON parser overflows its stack on deep nesting, and a time in year 1 or 5138
breaks weekly arithmetic. SQLite would take most of these silently, so a check
here is what keeps both databases answering alike: each problem is a sentence
for the row's line, never a traceback.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.errors import BadInput

MAX_DEPTH = 20
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
# C0 control characters except tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def checked_text(text: str, what: str) -> str:
    """``text`` unchanged, or a refusal naming the first control character in it."""
    found = _CONTROL.search(text)
    if found is not None:
        raise BadInput(f"{what} contains the control character U+{ord(found.group()):04X}")
    return text


def load_json(text: str, what: str) -> Any:
    """Parse JSON as the standard allows it: no NaN or Infinity, nesting within reason."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise BadInput(f"{what} is not JSON") from None
    except RecursionError:
        raise BadInput(f"{what} is nested more than {MAX_DEPTH} levels deep") from None
    return value


def checked_properties(value: Any) -> dict[str, Any] | None:
    """An event's properties: a JSON object (or nothing) of finite numbers and clean
    text, at most ``MAX_DEPTH`` levels deep."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInput("properties must be a JSON object")
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise BadInput(f"properties are nested more than {MAX_DEPTH} levels deep")
            if isinstance(item, dict):
                for key in item:
                    checked_text(key, "a property name")
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadInput("properties hold a number too large to be finite")
        elif isinstance(item, str):
            checked_text(item, "a property value")
    return value


def checked_time(moment: datetime, text: str, now: datetime) -> datetime:
    """Refuse times before 1970 or more than a day after ``now`` (the injected clock):
    they are typing or clock errors, and one of them would stretch every chart."""
    if not EARLIEST <= moment <= now + FUTURE_SLACK:
        raise BadInput(out_of_range(text))
    return moment


def out_of_range(text: str) -> str:
    return f"“{text.strip()[:40]}” is not between 1970 and a day from now"


def _no_constant(name: str) -> Any:
    raise BadInput(f"{name} is not a number JSON allows")
