"""The console adapter and the command line, run as a user would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli import app

SCRIPT = """\
:# every /feedback command, then every bad input
:as ana
/feedback dark mode for the editor
/feedback a dark mode for the whole app
/feedback
/feedback help
:as bo
/feedback vote #1
/feedback vote #1
/feedback unvote #1
/feedback vote #1
the export button is impossible to find
:as cy
:react 💡 ^
:react 👍 #3
:unreact 👍 #3
:react 👍 ^
/feedback top 3
/feedback list
/feedback list new tag:ui 1
/feedback search export
/feedback show #3
/feedback who #3
/feedback mute
/feedback unmute
/feedback connect
:as pm admin
/feedback merge #2 into #1
/feedback unmerge #2
/feedback merge #2 into #1
/feedback status #3 planned next sprint
/feedback tag #1 +ui +accessibility
/feedback tag #1 -accessibility
/feedback link #3 activation_rate
/feedback announce launches
/feedback admins add fay
/feedback board join
/feedback export
/feedback ship #1 Dark mode is live
/feedback ship #1
:run-jobs 2026-12-01T09:00:00
:as dee
/feedback vote #abc
/feedback vote #99
/feedback merge #1 into #3
/feedback <!channel> <!here> @everyone @here <@U123> look
:as eve
/feedback ship #3
/feedback merge #1 into #1
:workspace other
/feedback show #1
:bogus directive
"""


def run_cli(*args: str, stdin: str = "", db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], Path]:
    db = tmp_path_factory.mktemp("cli") / "lodestar.db"
    done = run_cli("console", "--json", stdin=SCRIPT, db=db)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()], db


def test_every_command_answers_and_nothing_fails(session: tuple[list[dict], Path]) -> None:
    out, _ = session
    kinds = [r.get("kind") or r.get("job") for r in out]
    for kind in (
        "item_created",
        "form",
        "help",
        "vote",
        "list",
        "show",
        "who",
        "mute",
        "connect",
        "merge",
        "unmerge",
        "status",
        "tag",
        "link",
        "announce",
        "admins",
        "board_join",
        "export",
        "ship",
        "ship_notice",
        "suggestions",
    ):
        assert kind in kinds, kind
    assert not any("Something went wrong" in r.get("text", "") for r in out)


def test_bad_inputs_get_clear_private_sentences(session: tuple[list[dict], Path]) -> None:
    out, _ = session
    errors = [r["text"] for r in out if r.get("kind") == "error"]
    assert errors == [
        "“#abc” is not an item number: write it like #12.",
        "There is no item #99 on this board.",
        "Only board admins can merge items.",
        "Only board admins can ship items.",
        "Only board admins can merge items.",
        "There is no item #1 on this board.",
        "Unknown directive :bogus directive — see lodestar console --help.",
    ]
    assert all(r["private"] for r in out if r.get("kind") == "error")


def test_pings_are_never_echoed(session: tuple[list[dict], Path]) -> None:
    out, _ = session
    for ping in ("<!channel>", "<!here>", "@everyone", "@here", "<@U123>"):
        assert not any(ping in json.dumps(r, ensure_ascii=False) for r in out), ping


def test_ship_notices_go_to_each_person_once(session: tuple[list[dict], Path]) -> None:
    out, _ = session
    notices = [r for r in out if r.get("job") == "ship_notice"]
    assert sorted(n["to"] for n in notices if "to" in n) == ["ana", "bo"]
    assert [n["channel"] for n in notices if "channel" in n] == ["launches"]


def test_exported_json_matches_the_conversation(session: tuple[list[dict], Path]) -> None:
    _, db = session
    done = run_cli("export", "feedback", "--format", "json", db=db)
    assert done.returncode == 0, done.stderr
    rows = {row["number"]: row for row in json.loads(done.stdout)}
    assert rows[1]["status"] == "shipped" and rows[1]["tags"] == ["ui"]
    assert rows[1]["demand"] == 2 and rows[1]["votes"] == 1
    assert rows[2]["merged_into"] == 1 and rows[2]["demand"] == 2
    assert rows[3] == {
        **rows[3],
        "status": "planned",
        "demand": 2,
        "votes": 1,
        "linked_metric": "activation_rate",
        "merged_into": None,
    }
    assert rows[4]["text"] == "<!channel> <!here> @everyone @here <@U123> look"
    for row in rows.values():
        assert set(row) >= {
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
        }
    csv_done = run_cli("export", "feedback", db=db)
    assert csv_done.stdout.splitlines()[0].startswith(
        "number,text,status,demand,votes,requesters,merged_into,tags,linked_metric,created_at"
    )


def test_one_line_with_dash_c(tmp_path: Path) -> None:
    done = run_cli("console", "-c", "/feedback top", db=tmp_path / "x.db")
    assert done.returncode == 0
    assert "The board is empty" in done.stdout


def test_unknown_workspace_export_is_a_clear_error(tmp_path: Path) -> None:
    typo = run_cli("export", "feedback", "--workspace", "nope", db=tmp_path / "x.db")
    assert (typo.returncode, typo.stderr.strip()) == (
        2,
        f"There is no database at {tmp_path / 'x.db'} (a typo in --db or DATABASE_URL?); "
        "`lodestar db upgrade` creates one.",
    )
    assert not (tmp_path / "x.db").exists()  # an operator's typo creates nothing
    assert run_cli("db", "upgrade", db=tmp_path / "x.db").returncode == 0
    done = run_cli("export", "feedback", "--workspace", "nope", db=tmp_path / "x.db")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "There is no workspace “nope”. Workspaces: none yet.",
    )
    for db in ("garbage", "mysql://x", str(tmp_path)):
        bad = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "export", "feedback", "--db", db],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["console"],
        ["demo"],
        ["db"],
        ["db", "upgrade"],
        ["export"],
        ["export", "feedback"],
        ["admins"],
        ["admins", "add"],
        ["admins", "remove"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_demo_runs_on_a_fresh_database(tmp_path: Path) -> None:
    done = run_cli("demo", "--out", str(tmp_path / "out"), db=tmp_path / "unused.db")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Seeded Canvasly: 34 people, 42 items" in out
    assert "🚀 #2 shipped" in out
    assert "Why Weekly active editors moved in" in out
    assert "→ #metrics: 🔔 Support tickets [support_tickets] is up: 240" in out
    assert "☀️ Daily digest" in out
    files = tmp_path / "out"
    for name in ("feedback.csv", "digest.txt", "north-star.png", "lodestar.toml"):
        assert (files / name).exists(), name
    png = (files / "north-star.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000
    assert not (tmp_path / "unused.db").exists()  # the demo never touches DATABASE_URL


def test_demo_refuses_a_file_for_out_and_a_database_in_use(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine")
    done = run_cli("demo", "--out", str(tmp_path / "afile"), db=tmp_path / "unused.db")
    assert done.returncode == 2 and done.stderr.strip() == (
        f"--out {tmp_path / 'afile'} is a file: the demo writes a folder of files there."
    )
    used = tmp_path / "used.db"
    assert run_cli("console", stdin="/feedback dark mode\n", db=used).returncode == 0
    done = run_cli("demo", "--db", f"sqlite:///{used}", "--out", str(tmp_path / "o"), db=used)
    assert done.returncode == 2 and "already has workspaces, so it is left alone" in done.stderr
    assert "Traceback" not in done.stderr
    assert [w[1] for w in _workspaces(used)] == ["console"]  # nothing seeded into it


def _workspaces(db: Path) -> list[tuple[str, str, str]]:
    from bot.app import Lodestar

    lodestar = Lodestar.open(f"sqlite:///{db}")
    with lodestar.db.uow() as uow:
        return [(w.platform, w.external_id, w.name) for w in uow.workspaces.all()]


def test_operator_commands_find_the_named_workspace_exactly_and_never_create_one(
    tmp_path: Path,
) -> None:
    from bot.app import Lodestar
    from bot.context import Caller

    db = tmp_path / "x.db"
    lodestar = Lodestar.open(f"sqlite:///{db}")
    for team, name in (("T0ACME", "Acme Inc"), ("T0456", "Globex"), ("T0999", "T0456")):
        caller = Caller("slack", team, "U1", "ana", workspace_name=name)
        lodestar.router.command(caller, "feedback", f"idea from {name}")
    before = _workspaces(db)

    added = run_cli("admins", "add", "U0BOSS", "--workspace", "Acme Inc", db=db)
    assert added.returncode == 0, added.stderr
    assert "Admins of slack:T0ACME (Acme Inc): U0BOSS." in added.stdout
    assert lodestar.settings.admins(Caller("slack", "T0ACME", "U1", "ana")) == ["U0BOSS"]

    ambiguous = run_cli("export", "feedback", "--workspace", "T0456", db=db)
    assert ambiguous.returncode == 2
    assert "could be several workspaces" in ambiguous.stderr
    assert "slack:T0456 (Globex)" in ambiguous.stderr and "slack:T0999 (T0456)" in ambiguous.stderr
    exact = run_cli("export", "feedback", "--format", "json", "--workspace", "slack:T0456", db=db)
    assert exact.returncode == 0 and json.loads(exact.stdout)[0]["text"] == "idea from Globex"

    for command in (
        ["admins", "add", "U0X", "--workspace", "Acme Corp"],
        ["nsm", "why", "--workspace", "typo"],
        ["digest", "--workspace", "typo", "--out", str(tmp_path / "d")],
        ["export", "feedback", "--workspace", "typo"],
    ):
        done = run_cli(*command, db=db)
        assert done.returncode == 2, (command, done.stderr)
        assert "There is no workspace" in done.stderr and "slack:T0ACME (Acme Inc)" in done.stderr
        assert "Traceback" not in done.stderr
    assert _workspaces(db) == before


def test_a_bad_directive_is_one_error_line_and_the_script_goes_on(tmp_path: Path) -> None:
    script = (
        "/feedback dark mode\n:react 👍 #²\n:run-jobs 0001-01-01\n:run-jobs 9999-12-31\n"
        ":run-jobs someday\n/feedback top\n"
    )
    done = run_cli("console", "--json", stdin=script, db=tmp_path / "x.db")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["text"] for r in out if r.get("kind") == "error"] == [
        "“#²” is not a reaction target: use #N or ^.",
        "0001-01-01 is before 1970: give a later date.",
        "9999-12-31 is more than 3,650 days ahead: give an earlier date.",
        "“someday” is not a date or time: use 2026-11-25 or 2026-11-25T09:00+01:00.",
    ]
    assert out[-1]["kind"] == "list"  # the last line still ran
