"""``lodestar scheduler`` as real processes against a real database and a local
stand-in of Slack's Web API: two at once for a simulated week, and one killed with
SIGKILL in the middle of a 5,000-person ship and started again. What reaches the
platform is counted there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from bot.app import Lodestar
from bot.clock import FixedClock
from bot.context import Caller
from bot.nsm.config import parse_config
from storage.models import Backer, Identity, Item, OutboxMessage, Person, Workspace
from storage.uow import Database
from tests.slack_fake import BOT_TOKEN, FakeSlackWebAPI, fake_slack_fixture, payloads
from tests.test_nsm_service import CONFIG

ROOT = Path(__file__).resolve().parents[1]
fake = fake_slack_fixture("fake")
TEAM = payloads.TEAM_ID
PM = Caller("slack", TEAM, "U0PM", "pm", channel="C0GENERAL", is_platform_admin=True)
SCHEDULED = CONFIG.replace(
    '[digest]\nchannel = "metrics"',
    '[digest]\nchannel = "metrics"\ntime = "09:00"\ntimezone = "Europe/Paris"\n\n'
    '[weekly_chart]\nweekday = "monday"\ntime = "09:30"',
)


def url_of(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


def scheduler(
    tmp_path: Path, fake: FakeSlackWebAPI, db_url: str, *args: str, rate: int = 400
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=db_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=fake.api_url,
        LODESTAR_SEND_RATES=f"slack={rate}",
    )
    env.pop("LODESTAR_CONFIG", None)
    log = (tmp_path / f"scheduler-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "scheduler", "--tick", "0.2", *args],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def seeded(database: Database, start: datetime, people: int = 0) -> Lodestar:
    """A Slack workspace with metric values, and item #1 backed by ``people`` more."""
    app = Lodestar.build(database, FixedClock(start), parse_config(SCHEDULED))
    for n, week in enumerate(range(40, 49)):
        for metric, value in (("wat", 200 + n), ("accounts", 100 + n), ("teams_per_account", 2)):
            app.router.command(PM, "nsm", f"record {metric} {value} 2026-W{week:02d}")
    app.router.command(PM, "feedback", "Dark mode")
    if people:
        with app.db.uow() as uow:
            workspace = uow.session.scalar(select(Workspace).where(Workspace.external_id == TEAM))
            item = uow.session.scalar(select(Item).where(Item.board_id == workspace.board_id))
            ids = list(
                uow.session.scalars(
                    insert(Person).returning(Person.id),
                    [{"display_name": f"u{n}", "muted": False, "created_at": start}
                     for n in range(people)],
                )
            )  # fmt: skip
            uow.session.execute(
                insert(Identity),
                [{"person_id": i, "workspace_id": workspace.id, "external_id": f"U{i:08d}",
                  "display_name": f"u{i}"} for i in ids],
            )  # fmt: skip
            uow.session.execute(
                insert(Backer),
                [{"head_id": item.id, "person_id": i, "board_id": workspace.board_id,
                  "weight": 1} for i in ids],
            )  # fmt: skip
            uow.session.execute(update(Item).where(Item.id == item.id).values(demand=people + 1))
            uow.commit()
    return app


def dms(fake: FakeSlackWebAPI) -> Counter[str]:
    """Ship DMs that reached Slack, by person."""
    return Counter(
        c.params["channel"]
        for c in fake.calls_to("chat.postMessage")
        if c.ok
        and str(c.params.get("text", "")).startswith("🚀 Shipped")
        and str(c.params["channel"]).startswith("D")
    )


def test_two_schedulers_for_a_simulated_week_post_everything_once(
    database: Database, fake: FakeSlackWebAPI, tmp_path: Path
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("two processes on one database: the PostgreSQL case")
    start = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday
    app = seeded(database, start, people=40)
    app.router.command(PM, "feedback", "ship #1 live")
    (tmp_path / "lodestar.toml").write_text(SCHEDULED)
    week = ("--clock-start", start.isoformat(), "--clock-speed", "40000",
            "--until", "2026-12-07T06:00:00+00:00")  # fmt: skip
    first = scheduler(tmp_path, fake, url_of(database), *week)
    second = scheduler(tmp_path, fake, url_of(database), *week)
    assert first.wait(120) == 0 and second.wait(120) == 0
    posts = [
        str(c.params.get("text", ""))
        for c in fake.calls_to("chat.postMessage")
        if c.ok and c.params.get("channel") in ("#metrics", "C0METRICS", "metrics")
    ]
    digests = [t for t in posts if t.startswith("☀️ Daily digest")]
    charts = [t for t in posts if t.startswith("📈")]
    days = [t.split(", ", 1)[1].split(" (", 1)[0] for t in digests]
    assert days == [f"{d} {m} 2026" for d, m in (
        ("Monday 30", "November"), ("Tuesday 01", "December"), ("Wednesday 02", "December"),
        ("Thursday 03", "December"), ("Friday 04", "December"), ("Saturday 05", "December"),
        ("Sunday 06", "December"),
    )]  # fmt: skip
    assert len(charts) == 1 and "2026-W48" in charts[0]
    assert set(dms(fake).values()) == {1} and len(dms(fake)) == 41
    with app.db.uow() as uow:
        states = Counter(uow.session.scalars(select(OutboxMessage.state)))
    assert set(states) == {"sent"}, states


def test_a_scheduler_killed_mid_fan_out_loses_nothing_and_sends_nothing_twice(
    database: Database, fake: FakeSlackWebAPI, tmp_path: Path
) -> None:
    if database.dialect != "sqlite":
        pytest.skip("one process at a time; SQLite is enough")
    db_url = url_of(database)
    app = seeded(database, datetime(2026, 12, 1, 8, tzinfo=UTC), people=4999)
    shipped = app.router.command(PM, "feedback", "ship #1 live")[0]
    assert shipped.data["queued"]["people"] == 5000
    first = scheduler(tmp_path, fake, db_url)
    for _ in range(600):  # until a good part is out
        if sum(dms(fake).values()) >= 1500:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    sent_before = sum(dms(fake).values())
    assert 0 < sent_before < 5000
    again = scheduler(tmp_path, fake, db_url)
    try:
        for _ in range(2400):
            with app.db.uow() as uow:
                left = uow.session.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.state != "sent").limit(1)
                )
            if left is None:
                break
            time.sleep(0.05)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(20)
    received = dms(fake)
    assert len(received) == 5000, "lost some"
    assert set(received.values()) == {1}, "sent some twice"


def test_sigterm_stops_the_scheduler_cleanly(
    database: Database, fake: FakeSlackWebAPI, tmp_path: Path
) -> None:
    """A container stops its process with SIGTERM (and, as PID 1, the default action
    does nothing): the scheduler stops at once and exits 0 rather than wait for SIGKILL."""
    if database.dialect != "sqlite":
        pytest.skip("one process; SQLite is enough")
    process = scheduler(tmp_path, fake, url_of(database))
    log = max(tmp_path.glob("scheduler-*.log"), key=lambda f: f.stat().st_mtime)
    for _ in range(200):
        if b"ticking every" in log.read_bytes():
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0, log.read_text()


@pytest.mark.parametrize(
    ("command", "env", "said"),
    [
        ("scheduler --tick nan", {}, "--tick is seconds between two looks at the clock"),
        ("scheduler --until 2026-13-01", {}, "--clock-start and --until take ISO times"),
        ("scheduler --db sqlite:///typo.db", {}, "There is no database at typo.db"),
        ("scheduler", {"LODESTAR_SEND_RATES": "slak=5"}, "LODESTAR_SEND_RATES: 'slak=5'"),
        ("scheduler", {"LODESTAR_SEND_RATES": "slack=1e-300"}, "a rate from 0.1 to 1000"),
        ("scheduler", {"LODESTAR_SEND_RATES": "slack=nan"}, "a rate from 0.1 to 1000"),
        ("run", {"SLACK_BOT_TOKEN": "xoxb-x"}, "SLACK_SIGNING_SECRET is not set"),
        (
            "run",
            {"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "s", "PORT": "notaport"},
            "PORT is not valid",
        ),
    ],
)
def test_a_setting_the_process_cannot_start_with_is_one_line_and_exit_2(
    tmp_path: Path, command: str, env: dict[str, str], said: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    clean.pop("LODESTAR_SEND_RATES", None)
    clean.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}", **env)
    cli = [sys.executable, "-m", "adapters.cli"]
    subprocess.run([*cli, "db", "upgrade"], cwd=tmp_path, env=clean, check=True, timeout=60)
    done = subprocess.run(
        [*cli, *command.split()],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    errors = [line for line in done.stderr.splitlines() if " INFO " not in line]
    assert done.returncode == 2 and len(errors) == 1 and said in errors[0], done.stderr
