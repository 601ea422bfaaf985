"""Raw product events: streamed in whole or not at all, checked at the edge alike on
SQLite and PostgreSQL, and read back through weekly aggregates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select

from bot.app import Lodestar
from bot.clock import FixedClock
from bot.nsm.config import parse_config
from bot.nsm.ingest import EventRow, ImportProblems, read_events
from bot.nsm.periods import week_of
from bot.nsm.service import EventsImported
from storage.metrics import week_start
from storage.migrate import alembic_config, upgrade
from storage.models import Base, EventWeek, EventWeekActor, ProductEvent
from storage.uow import Database

CONFIG = """\
[nsm]
north_star = "editors"

[metrics.editors]
name = "Weekly editors"
events = { unique_actors_of = "file_edited" }

[metrics.makers]
name = "Weekly makers"
events = { unique_actors_of = ["file_edited", "project_created"] }

[metrics.edits]
name = "Edits"
events = { count_of = ["file_edited", "project_created"] }
"""
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday of 2026-W48
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # 2026-W45
EVENT_TABLES = (ProductEvent, EventWeek, EventWeekActor)


@pytest.fixture
def events_app(database: Database) -> Lodestar:
    return Lodestar.build(database, FixedClock(NOW), parse_config(CONFIG))


def line(actor: str, at: datetime | str, event: str = "file_edited", **extra: object) -> str:
    when = at.isoformat() if isinstance(at, datetime) else at
    return json.dumps({"actor": actor, "event": event, "timestamp": when, **extra})


def many_lines(n: int) -> list[str]:
    """``n`` distinct events from 2026-W45 on, 6 minutes apart (5000 fill three weeks)."""
    return [line(f"u{i % 97}", MONDAY + timedelta(minutes=6 * i)) for i in range(n)]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def import_file(app: Lodestar, path: Path) -> EventsImported:
    return app.nsm.import_event_file(path)


def stored(database: Database) -> dict[str, int]:
    with database.uow() as uow:
        return {
            t.__tablename__: uow.session.scalar(select(func.count()).select_from(t)) or 0
            for t in EVENT_TABLES
        }


NOTHING = {"product_events": 0, "event_weeks": 0, "event_week_actors": 0}


# -- whole or nothing ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_bad_last_line_of_a_long_file_writes_nothing(
    events_app: Lodestar, database: Database, tmp_path: Path, fmt: str
) -> None:
    good = many_lines(5000)  # more than one batch is stored before the bad line is read
    if fmt == "csv":
        good = [f"{o['actor']},{o['event']},{o['timestamp']}" for o in map(json.loads, good)]
        lines = ["actor,event,timestamp", *good, "u1,file_edited,2026-11-0"]
        bad_line = 5002
    else:
        lines = [*good, '{"actor": "u1", "event": "file_edited", "timestamp": ']
        bad_line = 5001
    with pytest.raises(ImportProblems) as caught:
        import_file(events_app, write(tmp_path / f"events.{fmt}", lines))
    assert [n for n, _ in caught.value.problems] == [bad_line]
    assert stored(database) == NOTHING


def test_a_re_import_adds_nothing_and_leaves_the_weeks_alone(
    events_app: Lodestar, database: Database, tmp_path: Path
) -> None:
    path = write(tmp_path / "e.jsonl", many_lines(3000))
    first = import_file(events_app, path)
    assert (first.read, first.added, first.known) == (3000, 3000, 0)
    before = stored(database), events_app.nsm.history("editors", 4)
    again = import_file(events_app, path)
    assert (again.read, again.added, again.known) == (3000, 0, 3000)
    assert (stored(database), events_app.nsm.history("editors", 4)) == before


def test_the_reader_hands_out_rows_before_it_reaches_the_end_of_the_file(
    tmp_path: Path,
) -> None:
    """Streaming, seen from outside: a pipe whose writer waits for the first row."""
    pipe = tmp_path / "events.jsonl"
    os.mkfifo(pipe)
    first_row_seen = threading.Event()
    written_before_first_row: list[int] = []

    def writer() -> None:
        with pipe.open("w", encoding="utf-8") as out:
            out.write(line("a", MONDAY) + "\n")
            out.flush()
            first_row_seen.wait(timeout=10)  # a guard against a reader that never yields
            written_before_first_row.append(1 if first_row_seen.is_set() else 2)
            out.write(line("b", MONDAY) + "\n")

    thread = threading.Thread(target=writer)
    thread.start()
    rows = read_events(pipe, now=NOW)
    first = next(rows)
    first_row_seen.set()
    rest = list(rows)
    thread.join()
    assert (first.actor, [r.actor for r in rest]) == ("a", ["b"])
    assert written_before_first_row == [1]


def test_problems_are_counted_without_keeping_them_all(tmp_path: Path) -> None:
    lines = [line("u", MONDAY), *(["not json"] * 25_000)]
    with pytest.raises(ImportProblems) as caught:
        list(read_events(write(tmp_path / "e.jsonl", lines), now=NOW))
    assert len(caught.value.problems) == 10
    assert caught.value.message.endswith("; and 24990 more.")


# -- the edge: the same refusal on both databases ------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
REFUSALS = {
    "nul in actor": (line("a\u0000b", MONDAY), "actor contains the control character U+0000"),
    "escape in event": (
        line("a", MONDAY, event="file\u001bedited"),
        "event contains the control character U+001B",
    ),
    "nul in a property": (
        line("a", MONDAY, properties={"note": "x\u0000"}),
        "a property value contains the control character U+0000",
    ),
    "NaN property": (
        '{"actor": "a", "event": "file_edited", "timestamp": "2026-11-02T10:00:00Z", '
        '"properties": {"ms": NaN}}',
        "NaN is not a number JSON allows",
    ),
    "Infinity property": (
        '{"actor": "a", "event": "file_edited", "timestamp": "2026-11-02T10:00:00Z", '
        '"properties": {"ms": -Infinity}}',
        "-Infinity is not a number JSON allows",
    ),
    "overflowing property": (
        '{"actor": "a", "event": "file_edited", "timestamp": "2026-11-02T10:00:00Z", '
        '"properties": {"ms": 1e999}}',
        "properties hold a number too large to be finite",
    ),
    "properties 100k deep": (
        '{"actor": "a", "event": "file_edited", "timestamp": "2026-11-02T10:00:00Z", '
        f'"properties": {{"x": {DEEP}}}}}',
        "the line is nested more than 20 levels deep",
    ),
    "properties 21 deep": (
        line("a", MONDAY, properties={"x": json.loads("[" * 20 + "]" * 20)}),
        "properties are nested more than 20 levels deep",
    ),
    "year 1": (
        line("a", "0001-01-01T00:00:00Z"),
        "“0001-01-01T00:00:00Z” is not between 1970 and a day from now",
    ),
    "year 1 at +14:00": (
        line("a", "0001-01-01T00:00:00+14:00"),
        "“0001-01-01T00:00:00+14:00” is not between 1970 and a day from now",
    ),
    "year 5138": (
        '{"actor": "a", "event": "file_edited", "timestamp": 99999999999}',
        "“99999999999” is not between 1970 and a day from now",
    ),
    "two days ahead of the clock": (
        line("a", "2026-11-27T12:00:01Z"),
        "“2026-11-27T12:00:01Z” is not between 1970 and a day from now",
    ),
    "before 1970": (
        line("a", "1969-12-31T23:59:59Z"),
        "“1969-12-31T23:59:59Z” is not between 1970 and a day from now",
    ),
}


@pytest.mark.parametrize("bad", list(REFUSALS.values()), ids=list(REFUSALS))
def test_bad_values_are_refused_with_their_line_and_write_nothing(
    events_app: Lodestar, database: Database, tmp_path: Path, bad: tuple[str, str]
) -> None:
    text, reason = bad
    path = write(tmp_path / "e.jsonl", [line("a", MONDAY), text, line("c", MONDAY)])
    with pytest.raises(ImportProblems) as caught:
        import_file(events_app, path)
    assert caught.value.problems == [(2, reason)]
    assert stored(database) == NOTHING


def test_a_time_up_to_a_day_ahead_of_the_clock_is_accepted(
    events_app: Lodestar, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "e.jsonl", [line("a", NOW + timedelta(days=1)), line("b", "1970-01-01")]
    )
    assert import_file(events_app, path).added == 2


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("a\x00b,file_edited,2026-11-02T10:00:00", "actor contains the control character U+0000"),
        ('a,file_edited,2026-11-02T10:00:00,"{""ms"": NaN}"', "NaN is not a number JSON allows"),
        ("a,file_edited,0001-01-01T00:00:00+14:00", "is not between 1970 and a day from now"),
        ("a,file_edited,2026-11-02T10:00:00," + "[" * 140_000, "not readable as CSV"),
        ('a,file_edited,2026-11-02T10:00:00,"' + "[" * 60_000 + '"', "nested more than 20"),
    ],
    ids=["nul actor", "NaN property", "+14:00 year 1", "huge field", "deep properties"],
)
def test_csv_rows_meet_the_same_checks(
    events_app: Lodestar, database: Database, tmp_path: Path, row: str, reason: str
) -> None:
    path = write(tmp_path / "e.csv", ["actor,event,timestamp,properties", row])
    with pytest.raises(ImportProblems) as caught:
        import_file(events_app, path)
    [(number, problem)] = caught.value.problems
    assert number == 2 and reason in problem
    assert stored(database) == NOTHING


def test_a_line_longer_than_a_megabyte_is_refused_without_reading_it_whole(
    tmp_path: Path,
) -> None:
    lines = [line("a", MONDAY), line("b", MONDAY, properties={"x": "y" * 2_000_000})]
    with pytest.raises(ImportProblems) as caught:
        list(read_events(write(tmp_path / "e.jsonl", lines), now=NOW))
    assert caught.value.problems == [(2, "the line is longer than 1,048,576 characters")]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{cwd / 'l.db'}"}
    env.pop("LODESTAR_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_says_one_sentence_for_each_bad_line(tmp_path: Path) -> None:
    (tmp_path / "lodestar.toml").write_text(CONFIG)
    lines = [
        line("a", "2026-11-02T10:00:00Z"),
        line("b", "0001-01-01T00:00:00+14:00"),
        '{"actor": "c", "event": "e", "timestamp": "2026-11-02", "properties": {"x": NaN}}',
        '{"actor": "d", "event": "e", "timestamp": "2026-11-02", "properties": ' + DEEP + "}",
        line("e\u0000", "2026-11-02T10:00:00Z"),
    ]
    done = run_cli("events", "import", str(write(tmp_path / "e.jsonl", lines)), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "e.jsonl: nothing was imported — "
        "line 2: “0001-01-01T00:00:00+14:00” is not between 1970 and a day from now; "
        "line 3: NaN is not a number JSON allows; "
        "line 4: the line is nested more than 20 levels deep; "
        "line 5: actor contains the control character U+0000."
    ]
    good = write(tmp_path / "good.jsonl", many_lines(50))
    done = run_cli("events", "import", str(good), cwd=tmp_path)
    assert done.stdout.strip() == "Imported 50 events from good.jsonl (0 already known).", (
        done.stderr
    )
    done = run_cli("events", "import", str(good), cwd=tmp_path)
    assert done.stdout.strip() == "Imported 0 events from good.jsonl (50 already known)."


# -- weekly aggregates ------------------------------------------------------------------


def recount(database: Database, events: set[str], unique: bool) -> dict[datetime, int]:
    """The weekly value straight from the raw events, the way it was read before."""
    with database.uow() as uow:
        rows = uow.session.execute(
            select(ProductEvent.actor, ProductEvent.occurred_at).where(
                ProductEvent.event.in_(events)
            )
        ).all()
    actors: dict[datetime, set[str]] = defaultdict(set)
    counts: dict[datetime, int] = defaultdict(int)
    for actor, at in rows:
        actors[week_of(at).start].add(actor)
        counts[week_of(at).start] += 1
    return {w: len(a) for w, a in actors.items()} if unique else dict(counts)


def read_back(app: Lodestar, key: str) -> dict[datetime, int]:
    values = app.nsm.weekly([key], app.nsm._span_weeks([key]))[key]
    return {w.start: int(v) for w, v in values.items() if v}


METRICS = {
    "editors": ({"file_edited"}, True),
    "makers": ({"file_edited", "project_created"}, True),
    "edits": ({"file_edited", "project_created"}, False),
}
moments = st.datetimes(
    min_value=datetime(2026, 10, 25), max_value=datetime(2026, 11, 24, 23, 59)
).map(lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC))
event_rows = st.builds(
    EventRow,
    actor=st.sampled_from(["ana", "bo", "cy", "dee", "Ana"]),
    event=st.sampled_from(["file_edited", "project_created", "page_viewed"]),
    occurred_at=moments,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(imports=st.lists(st.lists(event_rows, max_size=40), min_size=1, max_size=4))
def test_the_aggregates_agree_with_a_recount_after_any_imports(
    events_app: Lodestar, database: Database, imports: list[list[EventRow]]
) -> None:
    with database.uow() as uow:
        for table in EVENT_TABLES:
            uow.session.execute(delete(table))
        uow.commit()
    for rows in imports:
        # The same events again, and some twice in one import: counted once.
        events_app.nsm.import_events([*rows, *rows[:3]])
    for key, (events, unique) in METRICS.items():
        assert read_back(events_app, key) == recount(database, events, unique), key


def test_history_reads_the_aggregates_not_the_raw_events(
    events_app: Lodestar, database: Database, tmp_path: Path
) -> None:
    import_file(events_app, write(tmp_path / "e.jsonl", many_lines(2000)))
    before = {k: events_app.nsm.history(k, 5) for k in METRICS}
    assert [v for _, v in before["editors"]] == [None, 97, 97, None, None]  # W44..W48
    with database.uow() as uow:
        uow.session.execute(delete(ProductEvent))
        uow.commit()
    assert {k: events_app.nsm.history(k, 5) for k in METRICS} == before


@settings(max_examples=300)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)))
def test_the_aggregates_week_is_the_iso_week(moment: datetime) -> None:
    moment = moment.replace(tzinfo=UTC)
    assert week_start(moment) == week_of(moment).start


def test_the_migrated_event_tables_are_the_models_tables(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    tables = [t.__tablename__ for t in EVENT_TABLES]
    assert [d for d in diffs if any(name in repr(d) for name in tables)] == []


def test_the_migration_fills_the_aggregates_from_stored_events(database: Database) -> None:
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    edges = [
        datetime(2026, 11, 1, 23, 59, 59, 999999, tzinfo=UTC),  # Sunday, end of W44
        datetime(2026, 11, 2, 0, 0, tzinfo=UTC),  # Monday, start of W45
        datetime(2026, 11, 4, 13, 30, 15, 250000, tzinfo=UTC),
        datetime(2026, 11, 8, 12, 0, tzinfo=UTC),  # Sunday of W45
        datetime(2027, 1, 1, 8, 0, tzinfo=UTC),  # Friday of 2026-W53
    ]
    rows = [
        {"actor": actor, "event": event, "occurred_at": at, "properties": None}
        for at in edges
        for actor in ("ana", "bo")
        for event in ("file_edited", "project_created")
        if not (actor == "bo" and at.day == 4)
    ]
    with database.engine.begin() as connection:
        connection.execute(insert(ProductEvent.__table__), rows)
    upgrade(database.engine)
    with database.uow() as uow:
        weeks = {
            (w.event, w.week_start): (w.actors, w.events)
            for w in uow.session.scalars(select(EventWeek))
        }
        triples = {tuple(r) for r in uow.session.execute(select(EventWeekActor.__table__))}
    expected_triples = {(r["event"], week_start(r["occurred_at"]), r["actor"]) for r in rows}
    assert triples == expected_triples
    expected: dict[tuple[str, datetime], tuple[int, int]] = {}
    for event, week, _ in expected_triples:
        mine = [r for r in rows if (r["event"], week_start(r["occurred_at"])) == (event, week)]
        expected[(event, week)] = (len({r["actor"] for r in mine}), len(mine))
    assert weeks == expected
    assert len(weeks) == 6  # both events in 2026-W44, W45 and W53
