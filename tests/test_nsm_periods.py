"""Periods: keys round-trip, weeks are ISO (Monday, UTC), rollups follow their rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.nsm.periods import (
    Period,
    PeriodError,
    check_moment,
    check_recordable,
    current_week,
    day_of,
    hour_of,
    latest_complete_week,
    parse_moment,
    parse_period,
    rollup,
    rollup_by_week,
    week_of,
    weeks_between,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_parse_week() -> None:
    p = parse_period("2026-W41")
    assert p.kind == "week"
    assert p.start == utc(2026, 10, 5)
    assert p.end == utc(2026, 10, 12)
    assert p.key == "2026-W41"
    assert p.start.tzinfo is not None


def test_parse_day_and_hour() -> None:
    d = parse_period("2026-10-05")
    assert (d.kind, d.start, d.end, d.key) == (
        "day",
        utc(2026, 10, 5),
        utc(2026, 10, 6),
        "2026-10-05",
    )
    h = parse_period("2026-10-05T14")
    assert (h.kind, h.start, h.end, h.key) == (
        "hour",
        utc(2026, 10, 5, 14),
        utc(2026, 10, 5, 15),
        "2026-10-05T14",
    )
    assert parse_period(" 2026-10-05T14:00 ") == h


def test_iso_week_across_year_boundary() -> None:
    # 2026-01-01 is a Thursday: it belongs to 2026-W01, which starts on 2025-12-29
    assert week_of(date(2026, 1, 1)).key == "2026-W01"
    assert week_of(date(2026, 1, 1)).start == utc(2025, 12, 29)
    assert week_of(date(2027, 1, 1)).key == "2026-W53"
    assert parse_period("2026-W53").next().key == "2027-W01"
    assert parse_period("2026-W01").previous().key == "2025-W52"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-W60", "'2026-W60' is not a week: use 2026-W41 or 2026-10-05."),
        ("2025-W53", "'2025-W53' is not a week: use 2026-W41 or 2026-10-05."),
        ("2026-13-01", "'2026-13-01' is not a date: use 2026-W41 or 2026-10-05."),
        ("2026-10-05T25", "'2026-10-05T25' is not an hour"),
        ("last week", "'last week' is not a period: use 2026-W41 or 2026-10-05"),
    ],
)
def test_bad_periods_have_clear_messages(text: str, message: str) -> None:
    with pytest.raises(PeriodError) as info:
        parse_period(text)
    assert str(info.value).startswith(message)


def test_week_of_datetime_uses_utc() -> None:
    # Monday 01:00 in UTC+3 is still Sunday in UTC
    local = datetime(2026, 10, 12, 1, tzinfo=timezone(timedelta(hours=3)))
    assert week_of(local).key == "2026-W41"
    assert week_of(datetime(2026, 10, 12, 0, 0)).key == "2026-W42"  # naive = UTC


def test_current_and_latest_complete_week() -> None:
    now = utc(2026, 10, 7, 9, 30)
    assert current_week(now).key == "2026-W41"
    assert latest_complete_week(now).key == "2026-W40"
    # at the very start of a week, the week just ended is complete
    assert latest_complete_week(utc(2026, 10, 12)).key == "2026-W41"


def test_navigation_and_contains() -> None:
    w = parse_period("2026-W41")
    assert w.shift(-2).key == "2026-W39"
    assert w.contains(utc(2026, 10, 11, 23, 59))
    assert not w.contains(utc(2026, 10, 12))
    assert len(w.days()) == 7 and w.days()[0] == date(2026, 10, 5)
    assert hour_of(utc(2026, 10, 5, 23, 59)).next().key == "2026-10-06T00"
    assert day_of(date(2026, 10, 5)).week == w
    assert [p.key for p in weeks_between(w, w.shift(2))] == ["2026-W41", "2026-W42", "2026-W43"]
    assert sorted([w.next(), w]) == [w, w.next()]


def test_period_must_be_aligned_and_utc() -> None:
    with pytest.raises(PeriodError):
        Period(utc(2026, 10, 6), "week")  # a Tuesday
    with pytest.raises(PeriodError):
        Period(datetime(2026, 10, 5), "day")  # naive


@given(st.dates(min_value=date(1, 1, 1), max_value=date(9998, 12, 1)))
def test_keys_round_trip(d: date) -> None:
    for p in (week_of(d), day_of(d), hour_of(datetime(d.year, d.month, d.day, 7))):
        assert parse_period(p.key) == p
    w = week_of(d)
    assert w.start.date() <= d < w.end.date()
    assert w.start.weekday() == 0
    assert w.next().previous() == w


WEEK = [date(2026, 10, 5) + timedelta(days=i) for i in range(7)]


def test_rollup_rules() -> None:
    values = {WEEK[2]: 30.0, WEEK[0]: 10.0, WEEK[1]: 20.0}
    assert rollup(values, "sum") == 60.0
    assert rollup(values, "mean") == 20.0
    assert rollup(values, "last") == 30.0  # latest day, not insertion order


def test_rollup_errors() -> None:
    with pytest.raises(PeriodError, match="'median' is not a rollup: use sum, mean, last"):
        rollup({WEEK[0]: 1.0}, "median")
    with pytest.raises(PeriodError, match="no daily values"):
        rollup({}, "sum")
    with pytest.raises(PeriodError, match="needs daily values"):
        rollup({parse_period("2026-W41"): 1.0}, "sum")


def test_rollup_by_week_groups_days_into_iso_weeks() -> None:
    days = {WEEK[0] - timedelta(days=1): 5.0, **{d: 1.0 for d in WEEK}}  # a Sunday before
    weeks = rollup_by_week(days, "sum")
    assert [(w.key, v) for w, v in weeks.items()] == [("2026-W40", 5.0), ("2026-W41", 7.0)]


def test_keys_write_years_with_four_digits() -> None:
    assert parse_period("0001-W01").key == "0001-W01"
    assert week_of(date(999, 6, 1)).key == "0999-W22"
    assert parse_period("0999-12-30").key == "0999-12-30"
    assert parse_period("0099-01-05T03").key == "0099-01-05T03"


NOW = utc(2026, 11, 25, 12)


def test_one_rule_for_where_values_may_be_recorded() -> None:
    assert check_recordable(parse_period("2026-W48"), NOW).key == "2026-W48"  # running week
    with pytest.raises(PeriodError, match=r"^2099-W01 has not started yet; record values for"):
        check_recordable(parse_period("2099-W01"), NOW)
    with pytest.raises(PeriodError, match=r"^0001-W01 is before 1970; record values from 1970 on"):
        check_recordable(parse_period("0001-W01"), NOW)


def test_a_moment_is_kept_as_given() -> None:
    assert parse_moment("2026-11-25", day_hour=9) == utc(2026, 11, 25, 9)
    assert parse_moment("2026-11-25T14:30") == utc(2026, 11, 25, 14, 30)
    plus_one = parse_moment("2026-11-25T14:30+01:00")
    assert plus_one.utcoffset() == timedelta(hours=1) and plus_one.hour == 14
    assert parse_moment("2026-11-25T14:30Z") == utc(2026, 11, 25, 14, 30)
    for bad in ("someday", "2026-02-30", "<!channel>"):
        with pytest.raises(PeriodError, match="is not a date"):
            parse_moment(bad)


@pytest.mark.parametrize(
    ("text", "ahead", "message"),
    [
        ("0001-01-01", timedelta(0), "0001-01-01 is before 1970: give a later date."),
        ("9999-12-31", timedelta(0), "9999-12-31 is in the future: give a past or present date."),
        (
            "9999-12-31",
            timedelta(days=3650),
            "9999-12-31 is more than 3,650 days ahead: give an earlier date.",
        ),
    ],
)
def test_moments_outside_the_sane_range_are_refused(text, ahead, message) -> None:
    with pytest.raises(PeriodError) as info:
        check_moment(parse_moment(text), NOW, ahead=ahead)
    assert str(info.value) == message
    assert check_moment(utc(2027, 1, 1), NOW, ahead=timedelta(days=3650)) == utc(2027, 1, 1)
