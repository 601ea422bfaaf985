"""When a workspace's posts are due, in its own time zone, DST included.

A schedule names a local time ("09:00 Europe/Paris"). At any instant the only
post that can be due is the one of the current local day (or, for the weekly
chart, of the ISO week that closed last): if its slot has passed and the grace
has not, it is due. Asking again later gives the same answer, so a scheduler that
was down at 09:00 posts that morning's digest when it comes back — never twice
(the post's key is claimed in the database) and never yesterday's.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import BadInput
from bot.nsm.periods import Period, week_of

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def parse_time(text: str) -> time:
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise BadInput(f"“{text[:20]}” is not a time of day: write it like 09:00 or 17:30.")
    return time(int(match.group(1)), int(match.group(2)))


@functools.cache
def zone_names() -> frozenset[str]:
    """The IANA zones of the tzdata package, which every host has: a name this host's
    own zone files add (``right/…``, ``posix/…``, ``localtime``) would fail elsewhere."""
    listed = importlib.resources.files("tzdata").joinpath("zones").read_text("utf-8")
    return frozenset(listed.split()) - {"Factory"}


def parse_zone(text: str) -> ZoneInfo:
    name = text.strip()
    try:
        if name not in zone_names():
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(
            f"“{name[:40]}” is not a time zone: use an IANA name like Europe/Paris or "
            "America/New_York."
        ) from None


def parse_weekday(text: str) -> int:
    name = text.strip().lower()
    for number, day in enumerate(WEEKDAYS):
        if len(name) >= 3 and day.startswith(name):
            return number
    raise BadInput(f"“{text[:20]}” is not a day of the week: write monday, tuesday, …")


#: A missed post's grace: at least two scheduler ticks, at most the rest of its day.
MIN_GRACE, MAX_GRACE = timedelta(minutes=1), timedelta(days=1)


def check_grace(grace: timedelta) -> timedelta:
    if not MIN_GRACE <= grace <= MAX_GRACE:
        raise BadInput(
            "grace must be between 1m and 24h: the scheduler looks every 30 s, and a "
            "post is never made on another day than its own."
        )
    return grace


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``at`` on ``day`` in ``zone``, as UTC. A time a DST change skips (02:30 on the
    spring-forward night) comes an hour later, after the change; a time that happens
    twice (01:30 on the autumn night) is its first occurrence."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class DailySchedule:
    """A post every day at ``at`` in ``zone``, in ``channel``."""

    channel: str
    at: time
    zone: ZoneInfo

    def describe(self) -> str:
        return f"every day at {self.at:%H:%M} {self.zone.key} in {self.channel}"

    def due(self, now: datetime, grace: timedelta | None = None) -> tuple[date, datetime] | None:
        """The local day whose post is due at ``now`` and its slot, or None."""
        today = now.astimezone(self.zone).date()
        slot = local_instant(today, self.at, self.zone)
        if now < slot or (grace is not None and now > slot + grace):
            return None
        return today, slot


@dataclass(frozen=True)
class WeeklySchedule:
    """A post on ``weekday`` at ``at`` in ``zone``, about the ISO week that just closed."""

    channel: str
    weekday: int
    at: time
    zone: ZoneInfo

    def describe(self) -> str:
        day = WEEKDAYS[self.weekday].capitalize()
        return f"every {day} at {self.at:%H:%M} {self.zone.key} in {self.channel}"

    def due(self, now: datetime, grace: timedelta | None = None) -> tuple[Period, datetime] | None:
        """The closed ISO week whose post is due at ``now`` and its slot, or None."""
        local = now.astimezone(self.zone)
        if local.weekday() != self.weekday:
            return None
        slot = local_instant(local.date(), self.at, self.zone)
        if now < slot or (grace is not None and now > slot + grace):
            return None
        # The last ISO week (UTC) that ended before the slot.
        return week_of(slot).previous(), slot


def to_json(schedule: DailySchedule | WeeklySchedule) -> dict[str, object]:
    out: dict[str, object] = {
        "channel": schedule.channel,
        "at": f"{schedule.at:%H:%M}",
        "zone": schedule.zone.key,
    }
    if isinstance(schedule, WeeklySchedule):
        out["weekday"] = WEEKDAYS[schedule.weekday]
    return out


def from_json(data: dict[str, object]) -> DailySchedule | WeeklySchedule:
    channel, at, zone = (
        str(data["channel"]),
        parse_time(str(data["at"])),
        parse_zone(str(data["zone"])),
    )
    if "weekday" in data:
        return WeeklySchedule(channel, parse_weekday(str(data["weekday"])), at, zone)
    return DailySchedule(channel, at, zone)
