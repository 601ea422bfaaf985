"""When scheduled posts are due: local time, DST, missed slots, closed weeks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import BadInput
from bot.jobs.schedule import (
    DailySchedule,
    WeeklySchedule,
    from_json,
    local_instant,
    parse_time,
    parse_weekday,
    parse_zone,
    to_json,
)

NY = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_nine_in_new_york_is_one_hour_later_in_utc_across_both_dst_changes() -> None:
    digest = DailySchedule("metrics", time(9), NY)
    # 2026: DST starts Sunday March 8, ends Sunday November 1.
    assert digest.due(utc(2026, 3, 7, 14, 0)) == (date(2026, 3, 7), utc(2026, 3, 7, 14))  # EST
    assert digest.due(utc(2026, 3, 7, 13, 59)) is None
    assert digest.due(utc(2026, 3, 8, 13, 0)) == (date(2026, 3, 8), utc(2026, 3, 8, 13))  # EDT
    assert digest.due(utc(2026, 10, 31, 13, 0)) == (date(2026, 10, 31), utc(2026, 10, 31, 13))
    assert digest.due(utc(2026, 11, 1, 13, 30)) is None  # 08:30 EST: not yet
    assert digest.due(utc(2026, 11, 1, 14, 0)) == (date(2026, 11, 1), utc(2026, 11, 1, 14))


def test_a_missed_slot_is_due_until_the_local_day_ends_or_the_grace_runs_out() -> None:
    digest = DailySchedule("metrics", time(9), NY)
    late = utc(2026, 12, 3, 23, 0)  # 18:00 in New York: the scheduler came back
    assert digest.due(late) == (date(2026, 12, 3), utc(2026, 12, 3, 14))
    assert digest.due(late, grace=timedelta(hours=2)) is None
    # Just after local midnight it is the next day's post that is (not yet) due.
    assert digest.due(utc(2026, 12, 4, 5, 1)) is None


def test_times_a_dst_change_skips_or_repeats() -> None:
    assert local_instant(date(2026, 3, 8), time(2, 30), NY) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT
    assert local_instant(date(2026, 11, 1), time(1, 30), NY) == utc(2026, 11, 1, 5, 30)  # first


def test_the_weekly_chart_is_about_the_week_that_closed() -> None:
    chart = WeeklySchedule("metrics", 0, time(9), ZoneInfo("Europe/Paris"))
    week, slot = chart.due(utc(2026, 11, 30, 8, 0))  # Monday 09:00 in Paris
    assert (week.key, slot) == ("2026-W48", utc(2026, 11, 30, 8))
    assert chart.due(utc(2026, 12, 1, 8, 0)) is None  # Tuesday
    tokyo = WeeklySchedule("metrics", 0, time(0, 30), ZoneInfo("Asia/Tokyo"))
    week, _ = tokyo.due(utc(2026, 11, 29, 15, 30))  # Monday 00:30 in Tokyo, Sunday in UTC
    assert week.key == "2026-W47"  # W48 has not closed yet in UTC


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_time, "25:00"),
        (parse_time, "9am"),
        (parse_zone, "Mars/Olympus"),
        (parse_zone, "../../etc/passwd"),
        # in this host's zone files, not in every host's: a schedule set here would
        # fail on the next host the scheduler runs on
        (parse_zone, "right/Europe/Paris"),
        (parse_zone, "posix/Europe/Paris"),
        (parse_zone, "localtime"),
        (parse_zone, "posixrules"),
        (parse_zone, "Factory"),
        (parse_weekday, "funday"),
        (parse_weekday, "m"),
    ],
)
def test_schedule_words_that_do_not_parse_get_a_sentence(parse, text: str) -> None:
    with pytest.raises(BadInput):
        parse(text)


def test_schedules_round_trip_through_json() -> None:
    for schedule in (
        DailySchedule("metrics", time(9), NY),
        WeeklySchedule("<#C123>", 4, time(17, 30), ZoneInfo("Europe/Paris")),
    ):
        assert from_json(to_json(schedule)) == schedule
    assert parse_weekday("Mon") == 0 and parse_weekday("sunday") == 6
