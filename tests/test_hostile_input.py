"""Input from people who type anything: it gets a reply, never a ping, never a traceback."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import Lodestar
from bot.context import Caller, ChatMessage
from bot.replies import Reply
from bot.text import ZWSP, defang
from tests.conversation import Chat
from tests.test_console_cli import run_cli

#: A mention or broadcast a platform would turn into a ping.
LIVE_PING = re.compile(r"<[!@#]|@(everyone|here|channel)", re.IGNORECASE)


def test_broadcasts_glued_to_other_characters_are_defanged_too() -> None:
    for ping in ("@everyone_", "@here1", "@Everyone!", "x@channelx", "<!here|here>", "<@&42>"):
        assert not LIVE_PING.search(defang(ping)), ping
        assert ZWSP in defang(ping)
    assert defang(defang("@here <!channel>")) == defang("@here <!channel>")


def test_two_console_runs_on_one_database_never_confuse_messages_or_cards(
    tmp_path: Path,
) -> None:
    db = tmp_path / "one.db"
    first = run_cli("console", "--json", stdin="/feedback dark mode\n:as bo\n:react 👍 #1\n", db=db)
    second = run_cli(
        "console",
        "--json",
        stdin="/feedback export to pdf\n:as cy\n:react 👍 #2\nmake it faster\n:react 💡 ^\n",
        db=db,
    )
    assert first.returncode == second.returncode == 0, second.stderr
    replies = [json.loads(line) for line in second.stdout.splitlines()]
    assert "👍 Vote counted for #2: demand 2." in [r["text"] for r in replies]
    logged = [r for r in replies if r["kind"] == "item_created"]
    assert [r["card"]["text"] for r in logged] == ["export to pdf", "make it faster"]


def test_control_characters_are_removed_at_the_edge_on_every_database(app: Lodestar) -> None:
    ana = Caller("console", "acme", "ana", "a\x00na")
    replies = app.router.command(ana, "feedback", "a\x00b\x07c")
    assert replies[0].card is not None and replies[0].card.text == "abc"
    assert app.router.command(ana, "feedback", "search a\x00b")[0].kind == "list"
    message = ChatMessage("general", "m\x00", "bo\x00", "b\x00o", "dark\x00 mode")
    captured = app.router.reaction(ana, "bulb", message, added=True)
    assert captured[0].card is not None and captured[0].card.text == "dark mode"
    assert app.board.show(Caller("console", "acme", "ana", "ana"), 2).requester == "bo"


@pytest.mark.parametrize(
    ("line", "usage"),
    [
        ("merge #1 #2", "/feedback merge #A into #B"),
        ("status #1 done", "/feedback status #N planned|in-progress|declined|new [note]"),
        ("top 100", "/feedback top [n], n from 1 to 50"),
        ("vote #1 #2", "/feedback vote #N"),
        ("tag #1 ux", "/feedback tag #N +tag -tag"),
    ],
)
def test_a_near_miss_command_gets_its_usage_privately_and_logs_nothing(
    app: Lodestar, line: str, usage: str
) -> None:
    chat = Chat(app)
    chat.as_("pm", admin=True).say("/feedback dark mode")
    reply = chat.reply(f"/feedback {line}")
    assert reply["private"] is True and reply["kind"] == "error"
    assert f"it should be: {usage}." in reply["text"]
    assert f'put it in quotes: /feedback "{line}"' in reply["text"]
    assert [v.number for v in app.board.items(chat.session.caller)] == [1]
    quoted = chat.say(f'/feedback "{line}"')[0]
    assert quoted["kind"] == "item_created" and quoted["card"]["text"] == line


# -- any text, every command -------------------------------------------------------------

WORDS = [
    "vote", "unvote", "top", "list", "search", "show", "who", "merge", "into", "unmerge",
    "status", "ship", "tag", "link", "mute", "unmute", "connect", "board", "join", "export",
    "announce", "admins", "add", "remove", "help", "why", "chart", "tree", "history",
    "record", "alerts", "channel", "digest", "off", "planned", "declined", "+ux", "-ux",
    "#1", "#2", "#0", "#-1", "#99999999999999999999", "#²", "#abc", "1", "50", "100", "1e308",
    "NaN", "-0", "inf", "2026-W47", "0001-W01", "9999-12-31", "24h", "x" * 300,
    "<!channel>", "<!here>", "@everyone", "@here1", "@everyone_", "<@U123|x>", "<@&42>",
    "<#C1|general>", "*bold*", "`code`", "\x00", "\u200b", "\u202e", "'; DROP TABLE items;--",
]  # fmt: skip
_workspaces = itertools.count()


def _texts(reply: Reply) -> list[str]:
    out = [reply.text, *(v for _, v in reply.fields)]
    out += [c.text for c in [reply.card, *reply.items] if c is not None]
    return [*out, json.dumps(reply.data, ensure_ascii=False)]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.sampled_from(["feedback", "nsm"]),
    words=st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=6),
    admin=st.booleans(),
)
def test_any_text_to_any_command_answers_without_a_ping_or_an_error(
    app: Lodestar, command: str, words: list[str], admin: bool
) -> None:
    workspace = f"fuzz{next(_workspaces)}"
    ana = Caller("console", workspace, "ana", "ana", is_platform_admin=admin)
    app.router.command(ana, "feedback", "dark mode <!channel>")  # something to act on
    app.router.command(ana, "feedback", "night theme @everyone")
    replies = app.router.command(ana, command, " ".join(words))
    assert replies, "every command answers"
    for reply in replies:
        assert "went wrong" not in reply.text, reply.text
        for text in _texts(reply):
            assert not LIVE_PING.search(text), (words, text)


def test_any_metric_key_the_config_accepts_can_be_linked(database) -> None:
    from bot.clock import FixedClock
    from bot.nsm.config import ConfigError, parse_config
    from tests.conftest import START

    config = parse_config(
        '[nsm]\nnorth_star = "Load-Time"\n\n[metrics.Load-Time]\nname = "Load time"\n'
    )
    app = Lodestar.build(database, FixedClock(START), config)
    pm = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    app.router.command(pm, "feedback", "Faster start")
    linked = app.router.command(pm, "feedback", "link #1 Load-Time")
    assert [r.text for r in linked] == ["#1 is linked to Load-Time."]
    assert [v.number for v in app.board.items(pm)] == [1]  # not logged as feedback
    refused = app.router.command(pm, "feedback", "link #1 load-time")[0]
    assert refused.text.startswith("There is no metric “load-time” (known: Load-Time)")
    for bad in ("none", "-x", "a" * 65, "two words"):
        with pytest.raises(ConfigError):
            parse_config(f'[metrics."{bad}"]\nname = "x"\n')


@pytest.fixture
def configured(database) -> Lodestar:
    """An app with a metric tree and a few weeks of values, so /nsm goes all the way."""
    from bot.clock import FixedClock
    from bot.nsm.config import parse_config
    from tests.test_nsm_service import CONFIG, NOW

    app = Lodestar.build(database, FixedClock(NOW), parse_config(CONFIG))
    pm = Caller("console", "seed", "pm", "pm", is_platform_admin=True)
    for week, value in (("2026-W45", 200), ("2026-W46", 210), ("2026-W47", 260)):
        for metric, factor in (("wat", 1), ("accounts", 0.5), ("teams_per_account", 0.01)):
            app.router.command(pm, "nsm", f"record {metric} {value * factor} {week}")
    return app


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    words=st.lists(
        st.one_of(st.sampled_from([*WORDS, "wat", "tickets"]), st.text(max_size=12)), max_size=5
    ),
    admin=st.booleans(),
)
def test_any_text_to_a_configured_nsm_answers_without_a_ping_or_an_error(
    configured: Lodestar, words: list[str], admin: bool
) -> None:
    ana = Caller("console", f"nsm{next(_workspaces)}", "ana", "ana", is_platform_admin=admin)
    replies = configured.router.command(ana, "nsm", " ".join(words))
    assert replies
    for reply in replies:
        assert "went wrong" not in reply.text, (words, reply.text)
        for text in _texts(reply):
            assert not LIVE_PING.search(text), (words, text)


@pytest.mark.parametrize(
    "line",
    [
        "top -1",
        "top 1e308",
        "list new 0",
        "list new -1",
        "list tag:",
        "list open tag:!",
        "announce",
        "announce #ann extra",
        "announce <!channel>",
    ],
)
def test_a_number_or_tag_where_a_view_wants_one_is_an_attempt(app: Lodestar, line: str) -> None:
    ana = Caller("console", "acme", "ana", "ana")
    reply = app.router.command(ana, "feedback", line)[0]
    assert reply.kind == "error" and "That looks like /feedback" in reply.text
    assert app.board.items(ana) == []


def test_a_tab_after_the_command_name_is_a_space(app: Lodestar) -> None:
    ana = Caller("console", "acme", "ana", "ana")
    app.router.line(ana, "/feedback dark mode")
    assert app.router.line(ana, "/feedback\tvote #1")[0].text.startswith("👍 Vote counted for #1")
