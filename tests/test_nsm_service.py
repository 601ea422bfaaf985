"""The North Star Metric through the router and the command line, on real storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Lodestar
from bot.clock import FixedClock
from bot.nsm.config import parse_config
from bot.nsm.ingest import ImportProblems, read_snapshots
from storage.models import ProductEvent, Snapshot
from storage.uow import Database
from tests.conversation import Chat

CONFIG = """\
[nsm]
north_star = "wat"
inputs = ["accounts", "teams_per_account"]
counter_metrics = ["tickets"]
formula = "product"

[metrics.wat]
name = "Weekly active teams"
[metrics.accounts]
name = "Active accounts"
[metrics.teams_per_account]
name = "Teams per account"
[metrics.tickets]
name = "Support tickets"
higher_is_better = false
rollup = "sum"
[metrics.creators]
name = "Weekly creators"
events = { unique_actors_of = "project_created" }

[digest]
channel = "metrics"

[[alerts]]
name = "tickets-high"
kind = "threshold"
metric = "tickets"
above = 100
"""
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday of 2026-W48


@pytest.fixture
def nsm_app(database: Database) -> Lodestar:
    return Lodestar.build(database, FixedClock(NOW), parse_config(CONFIG))


@pytest.fixture
def chat(nsm_app: Lodestar) -> Chat:
    return Chat(nsm_app).as_("pm", admin=True)


def posts(chat: Chat) -> list[dict]:
    """What was posted in the metrics channel."""
    return [r for r in chat.out if r.get("job") in ("alert", "recovery")]


def record_weeks(chat: Chat, rows: dict[str, list[float]], last: str = "2026-W47") -> None:
    year, week = last.split("-W")
    n = len(next(iter(rows.values())))
    for key, values in rows.items():
        for i, value in enumerate(values):
            chat.say(f"/nsm record {key} {value} {year}-W{int(week) - n + 1 + i:02d}")


def test_record_replaces_the_value_and_keeps_the_old_one(chat: Chat, nsm_app: Lodestar) -> None:
    assert chat.text("/nsm record wat 1200 2026-W40") == (
        "Recorded Weekly active teams = 1,200 for 2026-W40."
    )
    assert chat.text("/nsm record wat 1,250 2026-W40") == (
        "Recorded Weekly active teams = 1,250 for 2026-W40 (was 1,200)."
    )
    with nsm_app.db.uow() as uow:
        assert [s.value for s in uow.metrics.snapshots(["wat"])] == [1250.0]
        assert [r.value for r in uow.metrics.revisions("wat")] == [1200.0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/nsm record wat lots", "“lots” is not a number: write it like 1234 or 12.5."),
        ("/nsm record wat nan", "“nan” is not a number: write it like 1234 or 12.5."),
        (
            "/nsm record nope 3",
            "There is no metric “nope” (known: accounts, creators, "
            "teams_per_account, tickets, wat).",
        ),
        ("/nsm record wat 3 2026-W60", "'2026-W60' is not a week: use 2026-W41 or 2026-10-05."),
        (
            "/nsm record wat 3 2027-W01",
            "2027-W01 has not started yet; record values for past periods.",
        ),
        ("/nsm record creators 3", "creators is counted from raw events; import events instead."),
        ("/nsm why 2019-W01", "There is no data for 2019-W01."),
        ("/nsm why 0001-W01", "There is no data for 0001-W01."),
        ("/nsm record wat 3 1969-W52", "1969-W52 is before 1970; record values from 1970 on."),
        ("/nsm frobnicate", "I don't understand “/nsm frobnicate”; try /nsm help."),
    ],
)
def test_bad_nsm_input_is_one_private_sentence_and_changes_nothing(
    chat: Chat, nsm_app: Lodestar, line: str, expected: str
) -> None:
    reply = chat.reply(line)
    assert reply == {"kind": "error", "text": expected, "private": True}
    with nsm_app.db.uow() as uow:
        assert uow.metrics.snapshots(["wat", "creators"]) == []


def test_only_admins_record(chat: Chat) -> None:
    assert chat.as_("bo").text("/nsm record wat 3") == "Only board admins can record metric values."


def test_summary_why_and_the_json_contract(chat: Chat) -> None:
    record_weeks(
        chat,
        {
            "wat": [200, 210, 231],
            "accounts": [100, 100, 105],
            "teams_per_account": [2, 2.1, 2.2],
            "tickets": [40, 42, 41],
        },
    )
    summary = chat.reply("/nsm")
    assert summary["week"] == "2026-W47" and summary["north_star"] == 231
    assert "Weekly active teams, 2026-W47: 231" in summary["text"]
    why = chat.reply("/nsm why")["why"]
    assert why["week"] == "2026-W47" and why["method"] == "lmdi"
    assert why["north_star"] == {"key": "wat", "previous": 210, "current": 231, "change": 21}
    assert [c["metric"] for c in why["contributions"]] == ["accounts", "teams_per_account"]
    total = sum(c["contribution"] for c in why["contributions"]) + why["unexplained"]
    assert total == pytest.approx(21, rel=1e-9)
    assert why["unexplained"] == pytest.approx(0, abs=1e-9)


def test_why_names_missing_inputs(chat: Chat) -> None:
    record_weeks(chat, {"wat": [200, 210], "accounts": [100, 100]})
    assert chat.text("/nsm why 2026-W47") == (
        "2026-W47 is missing values for teams_per_account; record them first."
    )


def test_why_shows_linked_feedback_and_what_shipped(chat: Chat, nsm_app: Lodestar) -> None:
    record_weeks(
        chat,
        {
            "wat": [200, 210, 260],
            "accounts": [100, 100, 125],
            "teams_per_account": [2, 2.1, 2.08],
            "tickets": [40, 42, 41],
        },
    )
    chat.say("/feedback invite links for whole accounts")
    chat.say("/feedback link #1 accounts")
    chat.say("/feedback bulk invite from a CSV")
    chat.say("/feedback link #2 accounts")
    nsm_app.clock.set(datetime(2026, 11, 18, 10, tzinfo=UTC))  # inside 2026-W47
    chat.say("/feedback ship #1")
    nsm_app.clock.set(NOW)
    why = chat.reply("/nsm why 2026-W47")["why"]
    # Linked feedback is what is still open; what shipped is listed as shipped.
    assert [f["number"] for f in why["feedback"]] == [2]
    assert [s["number"] for s in why["shipped"]] == [1]


def test_why_shows_feedback_linked_through_a_merged_item(chat: Chat) -> None:
    record_weeks(
        chat,
        {
            "wat": [200, 210, 260],
            "accounts": [100, 100, 125],
            "teams_per_account": [2, 2.1, 2.08],
            "tickets": [40, 42, 41],
        },
    )
    chat.say("/feedback invite links for whole accounts")
    chat.say("/feedback invite link for my team")
    chat.say("/feedback merge #2 into #1")
    chat.say("/feedback link #2 accounts")
    why = chat.reply("/nsm why 2026-W47")["why"]
    assert [(f["number"], f["metric"]) for f in why["feedback"]] == [(1, "accounts")]


def test_daily_values_roll_up_into_weeks(chat: Chat, nsm_app: Lodestar) -> None:
    for day, value in [("2026-11-16", 10), ("2026-11-17", 12), ("2026-11-18", 11)]:
        chat.say(f"/nsm record tickets {value} {day}")
        chat.say(f"/nsm record accounts {value * 10} {day}")
    [(week, tickets)] = nsm_app.nsm.history("tickets", 2)[:1]
    assert (week.key, tickets) == ("2026-W47", 33)  # tickets roll up by sum
    assert nsm_app.nsm.history("accounts", 2)[0][1] == 110  # the default rule: last


def test_event_fed_metric_counts_unique_actors_per_week(nsm_app: Lodestar, tmp_path: Path) -> None:
    from bot.nsm.ingest import read_events

    lines = [
        '{"actor": "a", "event": "project_created", "timestamp": "2026-11-16T09:00:00Z"}',
        '{"actor": "a", "event": "project_created", "timestamp": "2026-11-17T09:00:00Z"}',
        '{"actor": "b", "event": "project_created", "timestamp": "2026-11-18T09:00:00Z"}',
        '{"actor": "c", "event": "page_viewed", "timestamp": "2026-11-18T09:00:00Z"}',
        '{"actor": "a", "event": "project_created", "timestamp": 1795514400}',
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert nsm_app.nsm.import_events(read_events(path, now=NOW)).added == 5
    assert nsm_app.nsm.import_events(read_events(path, now=NOW)).added == 0  # nothing new
    history = dict((w.key, v) for w, v in nsm_app.nsm.history("creators", 2))
    assert history == {"2026-W47": 2, "2026-W48": 1}


def test_alerts_fire_once_recover_once_and_survive_a_restart(
    chat: Chat, nsm_app: Lodestar, database: Database
) -> None:
    record_weeks(chat, {"tickets": [40, 42, 41]})
    chat.say("/nsm record tickets 140 2026-W48")
    alerts = posts(chat)
    assert len(alerts) == 1 and "tickets-high" in alerts[0]["text"]
    assert chat.text("/nsm alerts") == "Open alerts: tickets-high since 2026-11-23."
    # A restart: a new process over the same database evaluates again; nothing new.
    again = Lodestar.build(database, FixedClock(NOW), parse_config(CONFIG))
    again.watch()
    with database.uow() as uow:
        assert uow.outbox.counts() == {"sent": 1}
    chat.say("/nsm record tickets 60 2026-W48")
    recovered = posts(chat)
    assert len(recovered) == 2 and recovered[1]["text"].startswith("✅ Recovered")
    chat.say(":run-jobs")
    assert len(posts(chat)) == 2


def test_a_snoozed_rule_posts_nothing(chat: Chat) -> None:
    record_weeks(chat, {"tickets": [40, 42, 41]})
    assert chat.text("/nsm alerts mute tickets-high 2d").startswith("tickets-high is snoozed")
    chat.say("/nsm record tickets 140 2026-W48")
    assert posts(chat) == []
    assert "no alert rule" in chat.text("/nsm alerts mute nope 2d")
    assert "not a duration" in chat.text("/nsm alerts mute tickets-high soon")
    assert chat.as_("bo").text("/nsm alerts mute tickets-high 2d") == (
        "Only board admins can snooze alerts."
    )


def test_no_config_is_a_clear_sentence(database: Database) -> None:
    chat = Chat(Lodestar.build(database, FixedClock(NOW)))
    assert chat.text("/nsm").startswith("No metric tree is configured yet")


def test_csv_reader_names_bad_lines_and_keeps_nothing() -> None:
    text = "metric,period,value\nwat,2026-W40,10\nwat,2026-W41,ten\nnope,2026-W41,3\n"
    with pytest.raises(ImportProblems) as caught:
        read_snapshots(text, {"wat"}, source="m.csv")
    assert caught.value.problems == [
        (3, "“ten” is not a number: write it like 1234 or 12.5"),
        (4, "unknown metric “nope”"),
    ]


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


def test_command_line_imports_explains_and_backtests(tmp_path: Path) -> None:
    (tmp_path / "lodestar.toml").write_text(CONFIG)
    bad = tmp_path / "bad.csv"
    bad.write_text("wat,2026-W40,10\nwat,2026-W41,x\n")
    done = run_cli("metrics", "import", str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "bad.csv: nothing was imported — line 2: “x” is not a number: write it like 1234 or 12.5."
    )
    rows = ["metric,period,value"]
    for i, w in enumerate(range(40, 48)):
        rows += [
            f"wat,2026-W{w},{200 + 10 * i}",
            f"accounts,2026-W{w},{100 + 5 * i}",
            f"teams_per_account,2026-W{w},{(200 + 10 * i) / (100 + 5 * i)}",
        ]
    good = tmp_path / "good.csv"
    good.write_text("\n".join(rows) + "\n")
    done = run_cli("metrics", "import", str(good), cwd=tmp_path)
    assert done.returncode == 0 and "Imported 24 values" in done.stdout, done.stderr
    why = run_cli("nsm", "why", "--week", "2026-W45", "--json", cwd=tmp_path)
    assert why.returncode == 0, why.stderr
    data = json.loads(why.stdout)
    assert set(data) >= {"week", "method", "north_star", "contributions", "unexplained"}
    assert data["north_star"]["change"] == 10
    unknown = run_cli("nsm", "why", "--week", "2026-W99", cwd=tmp_path)
    assert unknown.returncode == 2 and "not a week" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    events = tmp_path / "events.csv"
    events.write_text(
        "actor,event,timestamp\na,project_created,2026-11-02T10:00:00\n"
        "b,project_created,yesterday\n"
    )
    done = run_cli("events", "import", str(events), cwd=tmp_path)
    assert done.returncode == 2 and "line 3: “yesterday” is not a time" in done.stderr
    series = tmp_path / "series.csv"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    series.write_text(
        "timestamp,value\n"
        + "".join(
            f"{(start + timedelta(days=d)).isoformat()},{100 + (30 if d == 60 else 0)}\n"
            for d in range(90)
        )
    )
    done = run_cli("alerts", "backtest", "--csv", str(series), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    episodes = json.loads(done.stdout)["episodes"]
    assert [e["start"][:10] for e in episodes] == ["2026-03-02"]
    done = run_cli("alerts", "backtest", "--metric", "wat", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Database(
        __import__("storage.db", fromlist=["make_engine"]).make_engine(
            f"sqlite:///{tmp_path / 'l.db'}"
        )
    ).uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Snapshot)) == 24
        assert uow.session.scalar(select(func.count()).select_from(ProductEvent)) == 0


def test_without_a_formula_why_needs_history_and_says_so(database: Database) -> None:
    config = parse_config(CONFIG.replace('formula = "product"\n', ""))
    chat = Chat(Lodestar.build(database, FixedClock(NOW), config)).as_("pm", admin=True)
    record_weeks(chat, {"wat": [200, 210], "accounts": [100, 104], "teams_per_account": [2, 2.02]})
    reply = chat.reply("/nsm why")
    assert reply["kind"] == "error" and "history" in reply["text"]
    record_weeks(
        chat,
        {
            "wat": [200, 190, 230, 250, 240, 262, 270, 281, 300, 296],
            "accounts": [100, 96, 112, 120, 118, 126, 130, 133, 140, 141],
            "teams_per_account": [2, 1.98, 2.05, 2.08, 2.03, 2.08, 2.07, 2.1, 2.14, 2.1],
        },
    )
    why = chat.reply("/nsm why")["why"]
    total = sum(c["contribution"] for c in why["contributions"]) + why["unexplained"]
    assert total == pytest.approx(why["north_star"]["change"], rel=1e-9)
    assert why["method"] != "lmdi"


def test_digest_on_the_command_line_writes_text_and_chart(tmp_path: Path) -> None:
    (tmp_path / "lodestar.toml").write_text(CONFIG)
    rows = ["metric,period,value"] + [
        f"{k},2026-W{w},{v}"
        for w in range(30, 48)
        for k, v in (("wat", 200 + w), ("accounts", 100), ("teams_per_account", (200 + w) / 100))
    ]
    (tmp_path / "v.csv").write_text("\n".join(rows) + "\n")
    assert run_cli("metrics", "import", "v.csv", cwd=tmp_path).returncode == 0
    done = run_cli("digest", "--date", "2026-11-25", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Daily digest, Wednesday 25 November 2026" in done.stdout
    assert (tmp_path / "out" / "digest.txt").read_text().startswith("☀️ Daily digest")
    assert (tmp_path / "out" / "north-star.png").read_bytes()[:4] == b"\x89PNG"
    bad = run_cli("digest", "--date", "someday", cwd=tmp_path)
    assert bad.returncode == 2 and "is not a date" in bad.stderr


def test_a_broken_config_stops_start_up_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "lodestar.toml").write_text('[nsm]\nnorth_star = "wat"\ninputs = ["x"]\n')
    done = run_cli("nsm", "tree", cwd=tmp_path)
    assert done.returncode == 2
    assert "lodestar.toml line" in done.stderr and "Traceback" not in done.stderr


def test_alert_rules_see_whole_grains_and_complete_weeks(
    nsm_app: Lodestar, chat: Chat, tmp_path: Path
) -> None:
    from bot.nsm.ingest import read_events

    record_weeks(chat, {"wat": [200, 210, 231]})
    chat.say("/nsm record wat 5 2026-11-24T10")  # one stray hourly value
    assert [v for _, v in nsm_app.nsm.series("wat")] == [200, 210, 231]
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"actor": "a", "event": "project_created", "timestamp": "2026-11-17T09:00:00Z"}\n'
        '{"actor": "b", "event": "project_created", "timestamp": "2026-11-24T09:00:00Z"}\n'
    )
    nsm_app.nsm.import_events(read_events(path, now=NOW))
    # 2026-W48 is still running on NOW: its count so far is no drop.
    assert [t.date().isoformat() for t, _ in nsm_app.nsm.series("creators")] == ["2026-11-16"]


def test_an_episode_the_history_no_longer_shows_is_closed(
    nsm_app: Lodestar, database: Database
) -> None:
    from storage.models import AlertEpisode

    with database.uow() as uow:
        uow.metrics.save_episode(
            AlertEpisode(
                rule="tickets-high",
                kind="threshold",
                metric="tickets",
                start=NOW - timedelta(days=60),
                end=None,
                peak=150.0,
                detail={},
            )
        )
        uow.commit()
    nsm_app.watch()
    with database.uow() as uow:
        assert uow.metrics.open_episodes() == []


def test_a_digest_for_a_past_date_shows_that_date_s_week(chat: Chat, nsm_app: Lodestar) -> None:
    from bot.nsm.reports import digest

    record_weeks(
        chat,
        {"wat": [200, 210, 231], "accounts": [100, 100, 105], "teams_per_account": [2, 2.1, 2.2]},
        last="2026-W47",
    )
    at = datetime(2026, 11, 11, 9, tzinfo=UTC)  # a Wednesday in 2026-W46
    text = digest(
        nsm_app.nsm, nsm_app.nsm_commands.watcher, chat.session.caller, at, with_chart=False
    ).text
    assert "(2026-W45): 200 teams" in text or "(2026-W45): 200" in text


def test_a_spreadsheet_csv_with_a_bom_imports(tmp_path: Path) -> None:
    (tmp_path / "lodestar.toml").write_text(CONFIG)
    (tmp_path / "v.csv").write_bytes("\ufeffmetric,period,value\nwat,2026-W40,10\n".encode())
    done = run_cli("metrics", "import", "v.csv", cwd=tmp_path)
    assert done.returncode == 0 and "Imported 1 value" in done.stdout, done.stderr


def test_an_absurd_snooze_is_a_sentence_not_a_crash(chat: Chat) -> None:
    assert chat.text("/nsm alerts mute tickets-high 99999999999d") == (
        "“99999999999d” is not a duration: write it like 90m, 24h or 2d."
    )


def test_a_bad_alert_rule_stops_start_up_before_anything_is_recorded(tmp_path: Path) -> None:
    (tmp_path / "lodestar.toml").write_text(CONFIG.replace("above = 100", 'above = "lots"'))
    line = CONFIG.splitlines().index("[[alerts]]") + 1
    for args in (("nsm", "tree"), ("console", "--admin", "-c", "/nsm record wat 5 2026-W40")):
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 2, done.stdout
        assert done.stderr.strip() == (
            f"lodestar.toml line {line}: alert 'tickets-high': 'above' must be a number, "
            "not 'lots'."
        )
    assert not (tmp_path / "l.db").exists()  # stopped before even opening the database


def test_closing_a_vanished_episode_keeps_what_was_stored_about_it(
    nsm_app: Lodestar, database: Database
) -> None:
    from storage.models import AlertEpisode

    start, peak_at = NOW - timedelta(days=60), NOW - timedelta(days=58)
    detail = {
        "instant": False,
        "direction": "up",
        "detail": "above 100",
        "peak_at": peak_at.isoformat(),
        "since": (start - timedelta(days=1)).isoformat(),
    }
    with database.uow() as uow:
        uow.metrics.save_episode(
            AlertEpisode(
                rule="tickets-high",
                kind="threshold",
                metric="tickets",
                start=start,
                end=None,
                peak=150.0,
                detail=dict(detail),
            )
        )
        uow.commit()
    nsm_app.watch()
    with database.uow() as uow:
        [closed] = uow.metrics.episodes(["tickets-high"])
        assert (closed.end, closed.peak, closed.detail) == (NOW, 150.0, detail)


def test_chart_and_digest_draw_what_exists_and_say_what_is_missing(
    chat: Chat, tmp_path: Path
) -> None:
    chat.say("/nsm record wat 100 2026-W47")
    chart = chat.reply("/nsm chart")
    assert chart["kind"] == "nsm_chart", chart
    assert "No values yet for Active accounts, Teams per account." in chart["text"]
    digest = chat.reply("/nsm digest")
    assert digest["kind"] == "nsm_digest", digest
    assert "No values yet for Active accounts, Teams per account." in digest["text"]
    (tmp_path / "lodestar.toml").write_text(CONFIG)
    rows = "metric,period,value\nwat,2026-W46,90\nwat,2026-W47,100\n"
    (tmp_path / "v.csv").write_text(rows)
    assert run_cli("metrics", "import", "v.csv", cwd=tmp_path).returncode == 0
    done = run_cli("digest", "--date", "2026-11-25", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "north-star.png").read_bytes()[:4] == b"\x89PNG"


def test_backtest_of_a_stored_metric_runs_only_the_rules_on_it(tmp_path: Path) -> None:
    (tmp_path / "lodestar.toml").write_text(CONFIG)
    rows = ["metric,period,value"] + [
        f"{k},2026-W{w},{v}"
        for w in range(30, 48)
        for k, v in (("wat", 200 + w), ("tickets", 150 if w == 40 else 40))
    ]
    (tmp_path / "v.csv").write_text("\n".join(rows) + "\n")
    assert run_cli("metrics", "import", "v.csv", cwd=tmp_path).returncode == 0
    tickets = run_cli("alerts", "backtest", "--metric", "tickets", "--json", cwd=tmp_path)
    assert tickets.returncode == 0, tickets.stderr
    episodes = json.loads(tickets.stdout)["episodes"]
    assert [(e["rule"], e["start"][:10]) for e in episodes] == [("tickets-high", "2026-09-28")]
    wat = run_cli("alerts", "backtest", "--metric", "wat", "--json", cwd=tmp_path)
    assert wat.returncode == 0, wat.stderr
    assert json.loads(wat.stdout) == {"episodes": []}  # tickets-high is not wat's rule
    assert wat.stderr.strip() == "No alert rule watches wat (rules watch: tickets)."
    table = run_cli("alerts", "backtest", "--metric", "wat", cwd=tmp_path)
    assert table.stdout.strip() == "No alert rule watches wat (rules watch: tickets)."
    nope = run_cli("alerts", "backtest", "--metric", "nope", cwd=tmp_path)
    assert nope.returncode == 2 and nope.stdout == ""
    assert nope.stderr.strip() == (
        "There is no metric “nope” (known: accounts, creators, teams_per_account, tickets, wat)."
    )


def imported(tmp_path: Path) -> Path:
    """A working directory with the config and eighteen weeks of values."""
    (tmp_path / "lodestar.toml").write_text(CONFIG)
    rows = ["metric,period,value"] + [
        f"{k},2026-W{w},{v}"
        for w in range(30, 48)
        for k, v in (("wat", 200 + w), ("accounts", 100), ("teams_per_account", (200 + w) / 100))
    ]
    (tmp_path / "v.csv").write_text("\n".join(rows) + "\n")
    assert run_cli("metrics", "import", "v.csv", cwd=tmp_path).returncode == 0
    return tmp_path


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("0001-01-01", "0001-01-01 is before 1970: give a later date."),
        ("9999-12-31", "9999-12-31 is in the future: give a past or present date."),
        (
            "2026-11-25 at noon",
            "“2026-11-25 at noon” is not a date or time: use 2026-11-25 or 2026-11-25T09:00+01:00.",
        ),
    ],
)
def test_a_digest_date_out_of_range_is_one_sentence(
    tmp_path: Path, date: str, message: str
) -> None:
    done = run_cli("digest", "--date", date, "--out", "out", cwd=imported(tmp_path))
    assert (done.returncode, done.stderr.strip()) == (2, message)
    assert not (tmp_path / "out").exists()


def test_a_digest_keeps_the_time_and_offset_it_was_given(tmp_path: Path) -> None:
    cwd = imported(tmp_path)
    done = run_cli("digest", "--date", "2026-11-25T17:30+01:00", "--out", "a", cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert "☀️ Daily digest, Wednesday 25 November 2026 (24 hours to 17:30 UTC+01:00)" in (
        done.stdout
    )
    done = run_cli("digest", "--date", "2026-11-25", "--out", "b", cwd=cwd)
    assert "Daily digest, Wednesday 25 November 2026 (24 hours to 09:00 UTC)" in done.stdout


def test_the_command_line_never_writes_over_a_file_unasked(tmp_path: Path) -> None:
    cwd = imported(tmp_path)
    (cwd / "taken").write_text("keep me")
    done = run_cli("digest", "--date", "2026-11-25", "--out", "taken", cwd=cwd)
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "taken is a file: --out takes a directory for digest.txt and north-star.png.",
    )
    assert (cwd / "taken").read_text() == "keep me"
    assert run_cli("digest", "--date", "2026-11-25", "--out", "d", cwd=cwd).returncode == 0
    again = run_cli("digest", "--date", "2026-11-25", "--out", "d", cwd=cwd)
    assert (again.returncode, again.stderr.strip()) == (
        2,
        "d/digest.txt already exists: pass --force to replace it, or choose another --out.",
    )
    forced = run_cli("digest", "--date", "2026-11-25", "--out", "d", "--force", cwd=cwd)
    assert forced.returncode == 0, forced.stderr
    # export: into a directory it writes feedback.csv there, and never over a file unasked
    run_cli("console", "-c", "/feedback dark mode", cwd=cwd)
    done = run_cli("export", "feedback", "--out", str(cwd / "d"), cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert (cwd / "d" / "feedback.csv").read_text().startswith("number,text")
    again = run_cli("export", "feedback", "--out", str(cwd / "d"), cwd=cwd)
    assert (again.returncode, again.stderr.strip()) == (
        2,
        f"{cwd / 'd' / 'feedback.csv'} already exists: pass --force to replace it, "
        "or choose another --out.",
    )
    forced = run_cli("export", "feedback", "--out", str(cwd / "d"), "--force", cwd=cwd)
    assert forced.returncode == 0, forced.stderr
    nowhere = run_cli("export", "feedback", "--out", str(cwd / "no" / "such" / "f.csv"), cwd=cwd)
    assert nowhere.returncode == 2 and nowhere.stderr.startswith("Could not write ")
    assert "Traceback" not in nowhere.stderr


@pytest.mark.parametrize(
    "line",
    [
        "/nsm why <!channel>",
        "/nsm record <!channel> 5",
        "/nsm history <!channel>",
        "/nsm history wat <!channel>",
        "/nsm alerts mute <!channel> 1h",
        "/nsm alerts mute tickets-high <!channel>",
        "/nsm record tickets <!channel>",
        "/nsm record wat 5 <!channel>",
        "/nsm chart <!channel>",
        "/nsm <!channel>",
    ],
)
def test_user_text_in_a_reply_never_pings(chat: Chat, line: str) -> None:
    for ping in ("<!channel>", "<!here>", "@everyone"):
        text = chat.text(line.replace("<!channel>", ping))
        assert ping not in text, text
        assert ping[0] + "\u200b" + ping[1:] in text, text  # echoed, but inert
    text = chat.text(line.replace("<!channel>", "@channel"))
    assert "@channel" not in text and "@\u200bchannel" in text, text


def test_an_imported_file_s_text_is_echoed_inert() -> None:
    with pytest.raises(ImportProblems) as caught:
        read_snapshots("<!here>,2026-W40,1\nwat,<!channel>,1\nwat,2026-W40,<!here>\n", {"wat"})
    assert "<!" not in str(caught.value)
    assert str(caught.value).count("<\u200b!") == 3


def test_values_beyond_a_sane_range_are_refused_at_the_door(chat: Chat) -> None:
    assert chat.text("/nsm record wat 1e308 2026-W40") == (
        "“1e308” is out of range: values must be between -1e15 and 1e15."
    )
    assert chat.text("/nsm record wat -2e15 2026-W40") == (
        "“-2e15” is out of range: values must be between -1e15 and 1e15."
    )
    assert chat.text("/nsm record wat 1e15 2026-W40") == (
        "Recorded Weekly active teams = 1,000T for 2026-W40."
    )
    with pytest.raises(ImportProblems) as caught:
        read_snapshots("wat,2026-W40,1e308\n", {"wat"}, source="m.csv")
    assert caught.value.problems == [
        (1, "“1e308” is out of range: values must be between -1e15 and 1e15")
    ]


def store(app: Lodestar, rows: dict[str, list[float]], last: str = "2026-W47") -> None:
    """Values as an older version (without range checks) may have stored them."""
    from bot.nsm.periods import parse_period

    week = parse_period(last)
    with app.db.uow() as uow:
        for key, values in rows.items():
            for i, value in enumerate(values):
                start = week.shift(i - len(values) + 1).start
                uow.metrics.record(key, "week", start, value, "test", "test", NOW)
        uow.commit()


def test_absurd_stored_values_never_show_inf_or_nan(chat: Chat, nsm_app: Lodestar) -> None:
    store(
        nsm_app,
        {"wat": [1e-320, 1e308], "accounts": [1e308, 1e308], "teams_per_account": [2, 3]},
    )
    summary = chat.text("/nsm")
    assert "inf" not in summary and "nan" not in summary, summary
    why = chat.reply("/nsm why")
    assert why["kind"] == "error" and why["private"], why
    assert why["text"] == (
        "The change cannot be split: the values are too large or too small to compute "
        "with; check them for typos."
    )


def test_nsm_why_json_is_always_valid_json(tmp_path: Path) -> None:
    (tmp_path / "lodestar.toml").write_text(CONFIG)
    url = f"sqlite:///{tmp_path / 'l.db'}"
    app = Lodestar.open(url, clock=FixedClock(NOW), config=parse_config(CONFIG))
    store(app, {"wat": [200, 210], "accounts": [1e308, 1e308], "teams_per_account": [2, 2.1]})
    done = run_cli("nsm", "why", "--week", "2026-W47", "--json", cwd=tmp_path)
    assert "NaN" not in done.stdout and "Infinity" not in done.stdout
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stdout + done.stderr


def test_imports_refuse_the_periods_that_record_refuses(nsm_app: Lodestar, tmp_path: Path) -> None:
    text = "metric,period,value\nwat,2026-W40,1\nwat,2099-W01,2\nwat,1969-W52,3\n"
    expected = [
        (3, "2099-W01 has not started yet; record values for past periods"),
        (4, "1969-W52 is before 1970; record values from 1970 on"),
    ]
    with pytest.raises(ImportProblems) as caught:
        read_snapshots(text, {"wat"}, now=NOW)
    assert caught.value.problems == expected
    rows = read_snapshots(text, {"wat"})  # read without a clock: the service still checks
    with pytest.raises(ImportProblems) as caught:
        nsm_app.nsm.import_snapshots(rows, "csv", "test")
    assert caught.value.problems == expected
    with nsm_app.db.uow() as uow:
        assert uow.metrics.snapshots(["wat"]) == []
    (tmp_path / "lodestar.toml").write_text(CONFIG)
    (tmp_path / "v.csv").write_text("wat,2026-W40,1\nwat,2099-W01,2\n")
    done = run_cli("metrics", "import", "v.csv", cwd=tmp_path)
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "v.csv: nothing was imported — line 2: 2099-W01 has not started yet; "
        "record values for past periods.",
    )


def test_why_on_the_first_week_of_data_says_there_is_no_earlier_week(chat: Chat) -> None:
    record_weeks(chat, {"wat": [200], "accounts": [100], "teams_per_account": [2]})
    for line in ("/nsm why", "/nsm why 2026-W47"):
        assert chat.text(line) == (
            "2026-W47 is the first week with data, so there is no earlier week to compare it with."
        )


def workspaces(cwd: Path) -> list[tuple[str, str, str]]:
    """Every workspace in the command line's database (each has a board of its own)."""
    from storage.db import make_engine
    from storage.models import Board, Workspace

    db = Database(make_engine(f"sqlite:///{cwd / 'l.db'}"))
    with db.uow() as uow:
        rows = uow.session.execute(
            select(Workspace.platform, Workspace.external_id, Workspace.name)
        ).all()
        assert uow.session.scalar(select(func.count()).select_from(Board)) == len(rows)
    return sorted((p, e, n) for p, e, n in rows)


def test_operator_commands_pick_an_existing_workspace_and_create_none(tmp_path: Path) -> None:
    cwd = imported(tmp_path)
    made = run_cli("console", "--workspace", "acme", "-c", "/feedback dark mode", cwd=cwd)
    assert made.returncode == 0, made.stderr
    before = workspaces(cwd)
    assert before == [("console", "acme", "acme")]
    typo = "There is no workspace “typo”. Workspaces: console:acme (acme)."
    for args in (
        ("nsm", "why", "--workspace", "typo"),
        ("digest", "--date", "2026-11-25", "--out", "d", "--workspace", "typo"),
        ("export", "feedback", "--workspace", "typo"),
    ):
        done = run_cli(*args, cwd=cwd)
        assert (done.returncode, done.stderr.strip()) == (2, typo), args
    assert workspaces(cwd) == before and not (cwd / "d").exists()
    for name in ("acme", "console:acme", "ACME", None):
        chosen = ("--workspace", name) if name else ()
        assert run_cli("nsm", "why", *chosen, cwd=cwd).returncode == 0, name
        done = run_cli("export", "feedback", "--format", "json", *chosen, cwd=cwd)
        assert json.loads(done.stdout)[0]["text"] == "dark mode", name
    assert workspaces(cwd) == before


def test_an_ambiguous_workspace_lists_the_candidates(tmp_path: Path) -> None:
    from storage.db import make_engine

    cwd = imported(tmp_path)
    run_cli("console", "--workspace", "acme", "-c", "/feedback dark mode", cwd=cwd)
    db = Database(make_engine(f"sqlite:///{cwd / 'l.db'}"))
    with db.uow() as uow:
        uow.workspaces.ensure("slack", "T042", "Acme Inc", NOW)
        uow.workspaces.ensure("discord", "99", "Acme Inc", NOW)
        uow.commit()
    digest = ("digest", "--date", "2026-11-25", "--out", "d")
    done = run_cli(*digest, "--workspace", "acme inc", cwd=cwd)
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "“acme inc” could be several workspaces: slack:T042 (Acme Inc), discord:99 (Acme Inc). "
        "Name one as platform:id, e.g. --workspace slack:T042.",
    )
    done = run_cli(*digest, cwd=cwd)
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "Pass --workspace: there are several (console:acme (acme), slack:T042 (Acme Inc), "
        "discord:99 (Acme Inc)).",
    )
    for name in ("slack:T042", "T042", "acme"):
        done = run_cli(*digest, "--workspace", name, "--force", cwd=cwd)
        assert done.returncode == 0, done.stderr
    assert len(workspaces(cwd)) == 3
