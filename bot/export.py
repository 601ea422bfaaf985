"""The board as CSV or JSON, for spreadsheets and other tools."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.feedback.views import ItemView

COLUMNS = (
    "number",
    "text",
    "status",
    "demand",
    "votes",
    "requesters",
    "merged_into",
    "tags",
    "linked_metric",
    "created_at",
)


def rows(views: list[ItemView]) -> list[dict[str, Any]]:
    """``demand`` is the group's; ``requesters`` counts this item's requester (always 1)."""
    return [
        {
            "number": v.number,
            "text": v.text,
            "status": v.status,
            "demand": v.demand,
            "votes": v.votes,
            "requesters": 1,
            "merged_into": v.merged_into,
            "tags": list(v.tags),
            "linked_metric": v.linked_metric,
            "created_at": v.created_at.isoformat(),
            "requester": v.requester,
        }
        for v in views
    ]


def to_json(views: list[ItemView]) -> str:
    return json.dumps(rows(views), ensure_ascii=False, indent=2) + "\n"


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(views: list[ItemView]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, "requester"], lineterminator="\n")
    writer.writeheader()
    for row in rows(views):
        row["tags"] = " ".join(row["tags"])
        row["merged_into"] = "" if row["merged_into"] is None else row["merged_into"]
        row["linked_metric"] = row["linked_metric"] or ""
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return out.getvalue()
