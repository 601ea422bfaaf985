"""``lodestar demo``: the whole product on a fresh database, no tokens, no network."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.console import demo_metrics as metrics
from adapters.console.demo_data import (
    ITEMS,
    LINKS,
    MERGES,
    PEOPLE,
    POPULAR,
    SCRIPT,
    SHIP,
    STATUSES,
    TAGS,
)
from adapters.console.session import ConsoleSession
from bot.app import Lodestar
from bot.clock import FixedClock
from bot.context import Caller
from bot.export import to_csv
from bot.nsm.config import parse_config
from bot.nsm.ingest import read_events, read_snapshots
from bot.nsm.periods import latest_complete_week
from bot.nsm.reports import digest

WORKSPACE = "canvasly"
FAST_LOADING = 18  # "Faster loading of big files": the request whose ship ends the dip


def person(name: str, admin: bool = False) -> Caller:
    return Caller(
        "console",
        WORKSPACE,
        name.split()[0].lower(),
        name.split()[0],
        channel="product-feedback",
        is_platform_admin=admin,
        workspace_name=WORKSPACE,
    )


def seed_board(app: Lodestar, clock: FixedClock, weeks: list) -> dict[str, int]:  # type: ignore[type-arg]
    """A believable board, logged over the year: people, items with duplicates, votes,
    merges, and two ships (dark mode, and the big-files fix that ended the dip)."""
    svc = app.board
    rng = random.Random(7)
    for n, (requester, text) in enumerate(ITEMS):
        clock.set(weeks[min(n, 45)].start + timedelta(hours=9 + n % 8))
        svc.capture(person(PEOPLE[requester]), text)
    votes = 0
    for number in range(1, len(ITEMS) + 1):
        # A few requests are wildly popular; most get a handful of votes.
        for name in rng.sample(PEOPLE, k=POPULAR.get(number, rng.randint(0, 4))):
            votes += svc.vote(person(name), number).changed
    admin = person("Priya Nair", admin=True)
    for number, into in MERGES:
        app.merges.merge(admin, number, into)
    for number, status, note in STATUSES:
        svc.set_status(admin, number, status, note)
    for number, tags in TAGS:
        svc.tag(admin, number, tags, ())
    for number, metric in LINKS:
        svc.link(admin, number, metric, app.nsm.metric_keys)
    app.settings.set_announce_channel(admin, "announcements")
    clock.set(metrics.ship_time(weeks))
    fix = svc.ship(admin, FAST_LOADING, "Big files open 3× faster.")
    clock.set(weeks[-1].end + timedelta(days=1, hours=8))
    shipped = svc.ship(admin, *SHIP)
    return {
        "people": len(PEOPLE),
        "items": len(ITEMS),
        "votes": votes,
        "merges": len(MERGES),
        "notices": fix.people + shipped.people,
    }


def seed_metrics(app: Lodestar, weeks: list, out: Path) -> tuple[int, int]:  # type: ignore[type-arg]
    """A year of numbers, fed through the real CSV and events importers."""
    _, values = metrics.story(weeks[-1])
    csv_path = out / "metrics.csv"
    csv_path.write_text(metrics.snapshot_csv(weeks, values), encoding="utf-8")
    events_path = out / "events.jsonl"
    events_path.write_text(metrics.events_jsonl(weeks, values["active_accounts"]), encoding="utf-8")
    rows = read_snapshots(
        csv_path.read_text(encoding="utf-8"), app.nsm.metric_keys, source=csv_path.name
    )
    snapshots = app.nsm.import_snapshots(rows, "csv", "demo")
    events = app.nsm.import_events(read_events(events_path, now=weeks[-1].end))
    return snapshots, events.added


def next_morning(now: datetime) -> datetime:
    """09:00 in Paris on the day after ``now``: when the demo's digest is due."""
    paris = ZoneInfo("Europe/Paris")
    day = now.astimezone(paris).date() + timedelta(days=1)
    return datetime.combine(day, dt_time(9), tzinfo=paris)


class DemoRefused(Exception):
    """The demo will not write its made-up company into a database in use."""


def run_demo(db: str | None, out: Path, echo: Callable[[str], None]) -> None:
    started = time.perf_counter()
    now = datetime.now(UTC)
    weeks = [latest_complete_week(now).shift(i - metrics.WEEKS + 1) for i in range(metrics.WEEKS)]
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "lodestar.toml"
    config_path.write_text(metrics.CONFIG, encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        url = db or f"sqlite:///{Path(tmp) / 'demo.db'}"
        clock = FixedClock(weeks[0].start)
        app = Lodestar.open(url, clock=clock, config=parse_config(metrics.CONFIG, str(config_path)))
        with app.db.uow() as uow:
            if uow.workspaces.all():
                raise DemoRefused(
                    f"The demo seeds a made-up company: {url.split('@')[-1]} already has "
                    "workspaces, so it is left alone. Give --db an empty database, or none."
                )
        facts = seed_board(app, clock, weeks)
        snapshots, events = seed_metrics(app, weeks, out)
        clock.set(now)
        app.watch()
        echo(
            f"Seeded Canvasly: {facts['people']} people, {facts['items']} items, "
            f"{facts['votes']} votes, {facts['merges']} merges, 2 ships; a year of metrics "
            f"({snapshots} values, {events:,} raw events); config in {config_path}.\n"
        )
        session = ConsoleSession(app, echo, workspace=WORKSPACE, channel="product-feedback")
        session.run_jobs()
        echo("")
        session.run(SCRIPT.splitlines())
        morning = next_morning(now)
        echo(f"\nThe next morning, {morning:%A %d %B at %H:%M} in Paris, the scheduler posts:")
        session.feed(f":run-jobs {morning.isoformat()}")
        admin = person("Priya Nair", admin=True)
        export = out / "feedback.csv"
        export.write_text(to_csv(app.board.export(admin)), encoding="utf-8")
        daily = digest(app.nsm, app.nsm_commands.watcher, admin, now)
        (out / "digest.txt").write_text(daily.text + "\n", encoding="utf-8")
        chart = out / "north-star.png"
        chart.write_bytes(daily.attachments[0].content)
        app.db.engine.dispose()
    echo(f"\nWrote {out / 'digest.txt'}, {chart}, {export} and the demo's {config_path.name}.")
    echo(f"Demo finished in {time.perf_counter() - started:.1f} s.")
