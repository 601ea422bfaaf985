"""Canvasly's metric tree and a year of numbers with a story: steady growth, a dip
when big files got slow, a recovery after "faster loading" shipped, a record high."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta

from bot.nsm.periods import Period

CONFIG = """\
# Canvasly's metric tree (lodestar demo).
[nsm]
north_star = "weekly_active_editors"
inputs = ["active_accounts", "teams_per_account", "editors_per_team", "weekly_active_share"]
counter_metrics = ["support_tickets", "p95_load_seconds"]
formula = "product"

[metrics.weekly_active_editors]
name = "Weekly active editors"
unit = "editors"
owner = "Leadership"

[metrics.active_accounts]
name = "Active accounts"
owner = "Growth"
events = { unique_actors_of = "file_edited" }

[metrics.teams_per_account]
name = "Teams per account"
owner = "Collaboration"

[metrics.editors_per_team]
name = "Editors per team"
owner = "Collaboration"

[metrics.weekly_active_share]
name = "Weekly active share"
owner = "Core editor"

[metrics.support_tickets]
name = "Support tickets"
higher_is_better = false
owner = "Support"
rollup = "sum"

[metrics.p95_load_seconds]
name = "p95 file load"
unit = "s"
higher_is_better = false
owner = "Platform"

[digest]
channel = "metrics"
time = "09:00"              # posted every morning by the scheduler
timezone = "Europe/Paris"

[weekly_chart]
weekday = "monday"
time = "09:30"

[[alerts]]
name = "editors-drop"
kind = "threshold"
metric = "weekly_active_editors"
drop_pct = 8
baseline = "28d"

[[alerts]]
name = "editors-record"
kind = "milestone"
metric = "weekly_active_editors"
min_history = "84d"
cooldown = "28d"

[[alerts]]
name = "tickets-spike"
kind = "threshold"
metric = "support_tickets"
above = 200

[[alerts]]
name = "tickets-guard"
kind = "counter_guard"
metric = "weekly_active_editors"
counter = "support_tickets"
bad_direction = "up"
tolerance_pct = 25
"""

WEEKS = 52
DIP = range(31, 37)  # weeks (0-based) when big files were slow
SHIP_WEEK = 37  # "Faster loading of big files" shipped at the start of this week


def story(last_week: Period, seed: int = 11) -> tuple[list[Period], dict[str, list[float]]]:
    """Weekly values of every metric, the last one for ``last_week``."""
    rng = random.Random(seed)
    weeks = [last_week.shift(i - WEEKS + 1) for i in range(WEEKS)]
    out: dict[str, list[float]] = {
        k: []
        for k in (
            "active_accounts",
            "teams_per_account",
            "editors_per_team",
            "weekly_active_share",
            "support_tickets",
            "p95_load_seconds",
            "weekly_active_editors",
        )
    }
    for i in range(WEEKS):
        accounts = round(300 + 2.2 * i + 6 * math.sin(i / 4) + rng.gauss(0, 3))
        teams = 2.05 + 0.006 * i + rng.gauss(0, 0.01)
        editors = 3.4 + 0.004 * i + rng.gauss(0, 0.02)
        share = 0.71 + 0.001 * i + rng.gauss(0, 0.006)
        load, tickets = 2.1 + rng.gauss(0, 0.08), 120 + i * 0.6 + rng.gauss(0, 8)
        if i in DIP:  # big files got slow: people stop coming back, tickets pile up
            depth = min(i - DIP.start + 1, 3) / 3
            share -= 0.16 * depth
            load += 3.5 * depth
            tickets += 70 * depth
        elif SHIP_WEEK <= i < SHIP_WEEK + 3:  # the fix ships; people come back
            share += 0.02 * (i - SHIP_WEEK + 1)
            load = 1.6 + rng.gauss(0, 0.05)
        elif i >= SHIP_WEEK + 3:
            share += 0.055
            load = 1.5 + rng.gauss(0, 0.05)
        row = {
            "active_accounts": accounts,
            "teams_per_account": round(teams, 3),
            "editors_per_team": round(editors, 3),
            "weekly_active_share": round(share, 4),
            "support_tickets": round(tickets),
            "p95_load_seconds": round(load, 2),
        }
        row["weekly_active_editors"] = round(
            row["active_accounts"]
            * row["teams_per_account"]
            * row["editors_per_team"]
            * row["weekly_active_share"]
        )
        for key, value in row.items():
            out[key].append(float(value))
    return weeks, out


def snapshot_csv(weeks: list[Period], values: dict[str, list[float]]) -> str:
    """Every recorded (non-event) metric as ``metric,period,value`` lines."""
    lines = ["metric,period,value"]
    for key, series in values.items():
        if key == "active_accounts":
            continue
        lines += [f"{key},{w.key},{v:g}" for w, v in zip(weeks, series, strict=True)]
    return "\n".join(lines) + "\n"


def events_jsonl(weeks: list[Period], accounts: list[float], seed: int = 5) -> str:
    """Raw ``file_edited`` events: exactly ``accounts[i]`` unique accounts in week i."""
    rng = random.Random(seed)
    pool = [f"acct-{n:04d}" for n in range(700)]
    lines = []
    for week, count in zip(weeks, accounts, strict=True):
        for actor in rng.sample(pool, int(count)):
            for _ in range(rng.choice((1, 1, 2, 3))):
                at = week.start + timedelta(seconds=rng.randrange(7 * 86400))
                lines.append(
                    json.dumps(
                        {
                            "actor": actor,
                            "event": "file_edited",
                            "timestamp": at.isoformat(),
                            "properties": {"plan": rng.choice(("team", "pro"))},
                        }
                    )
                )
    return "\n".join(lines) + "\n"


def ship_time(weeks: list[Period]) -> datetime:
    return weeks[SHIP_WEEK].start + timedelta(hours=10)
