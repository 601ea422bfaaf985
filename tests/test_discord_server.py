"""``lodestar serve discord`` as a real subprocess, pointed at an in-test Discord stand-in
through DISCORD_API_URL (the gateway is what ``GET /gateway/bot`` answers there)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.app import Lodestar
from bot.context import Caller
from tests.background_server import stop_process
from tests.discord_fake import (
    BOT_TOKEN,
    INTERACTION_CALLBACK,
    Call,
    FakeDiscord,
    payloads,
)
from tests.discord_support import caller

ROOT = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "adapters.cli", "serve", "discord"]
#: Generous: a cold start imports discord.py, SQLAlchemy and matplotlib and migrates SQLite.
START_TIMEOUT = 60.0
T = TypeVar("T")


def serve_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This environment without Discord or Lodestar settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "LODESTAR_"))}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite:///{tmp_path / 'lodestar.db'}")
    env.update(settings)
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def until(self, what: Callable[[float], T], timeout: float = START_TIMEOUT) -> T:
        """`what(seconds)` (a stand-in wait), retried in short steps; fails at once, with
        the server's output, if the server exits."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return what(0.2)
            except AssertionError as error:
                exited = self.process.poll()
                if exited is not None or time.monotonic() > deadline:
                    why = f"exited with {exited}" if exited is not None else f"{timeout:.0f} s"
                    pytest.fail(f"{why}: {error}\n--- lodestar serve discord:\n{self.output()}")


@contextmanager
def serving(env: dict[str, str], cwd: Path) -> Iterator[Server]:
    log = cwd / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(SERVE, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield Server(process, log)
    finally:
        stop_process(process)


def callback_of(fake: FakeDiscord, server: Server, interaction: dict[str, Any]) -> Call:
    """The one callback that answered `interaction`."""

    def answered(timeout: float) -> Call:
        (call,) = fake.wait_for(
            INTERACTION_CALLBACK,
            timeout=timeout,
            where=lambda c: c.params.get("webhook_id") == interaction["id"],
        )
        return call

    return server.until(answered, timeout=10)


def board_item(db: Path, who: Caller, number: int) -> tuple[str, str, int]:
    app = Lodestar.open(f"sqlite:///{db}")
    try:
        item = app.board.show(who, number)
        return item.text, item.requester, item.demand
    finally:
        app.db.engine.dispose()


def test_serve_discord_answers_feedback_with_item_1(tmp_path: Path) -> None:
    with FakeDiscord() as fake:
        env = serve_env(tmp_path, DISCORD_TOKEN=BOT_TOKEN, DISCORD_API_URL=fake.api_url)
        with serving(env, tmp_path) as server:
            server.until(lambda t: fake.wait_ready(t))
            interaction = payloads.slash_command("feedback", "Dark mode")
            fake.dispatch("INTERACTION_CREATE", interaction)
            callback = callback_of(fake, server, interaction)

        assert callback.status == 200 and callback.json["type"] == 4  # a message, not deferred
        content = callback.json["data"]["content"]
        assert content.startswith("📝 #1 logged: “Dark mode”"), content
        assert not callback.ephemeral
        assert {c["name"] for c in fake.commands()} == {"feedback", "nsm", "Log as feedback"}
    assert board_item(tmp_path / "lodestar.db", caller(), 1) == ("Dark mode", "Alice", 1)


def test_serve_discord_without_a_token_exits_2_naming_it(tmp_path: Path) -> None:
    result = subprocess.run(
        SERVE, cwd=tmp_path, env=serve_env(tmp_path), capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("lodestar serve discord: DISCORD_TOKEN is not set"), line
    assert not (tmp_path / "lodestar.db").exists()  # nothing was touched


def test_serve_discord_with_a_refused_token_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    with FakeDiscord() as fake:
        env = serve_env(tmp_path, DISCORD_TOKEN="not-the-bot-token", DISCORD_API_URL=fake.api_url)
        result = subprocess.run(
            SERVE, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "lodestar serve discord: Discord refused DISCORD_TOKEN (Improper token has been passed.)."
    )
    assert not fake.identifies  # it never reached the gateway


def test_serve_discord_runs_the_recommended_shards_each_with_its_own_guilds(
    tmp_path: Path,
) -> None:
    """DISCORD_SHARDS unset: as many shards as ``GET /gateway/bot`` recommends (2 here).
    discord.py waits 5 s between the two IDENTIFYs, as Discord requires."""
    second = payloads.guild_id_for_shard(1, 2)
    ideas = payloads.text_channel("ideas", guild_id=second)
    assert payloads.shard_of(payloads.GUILD_ID, 2) == 0
    with FakeDiscord(shards=2) as fake:
        fake.add_guild(payloads.guild("Second", guild_id=second, channels=[ideas]))
        env = serve_env(tmp_path, DISCORD_TOKEN=BOT_TOKEN, DISCORD_API_URL=fake.api_url)
        with serving(env, tmp_path) as server:
            server.until(lambda t: fake.wait_ready(t, count=2))
            interaction = payloads.slash_command(
                "feedback", "Dark mode", guild_id=second, channel=ideas
            )
            (sent,) = fake.dispatch("INTERACTION_CREATE", interaction)
            callback = callback_of(fake, server, interaction)

        assert fake.calls_to("GET /gateway/bot")
        assert sorted(d["shard"] for d in fake.identifies) == [[0, 2], [1, 2]]
        created = {(d.shard, d.data["id"]) for d in fake.dispatched if d.event == "GUILD_CREATE"}
        assert created == {(0, str(payloads.GUILD_ID)), (1, str(second))}
        assert sent.shard == 1
        assert callback.json["data"]["content"].startswith("📝 #1 logged: “Dark mode”")
    second_board = Caller("discord", str(second), str(payloads.ALICE_ID), "Alice", ideas["id"])
    assert board_item(tmp_path / "lodestar.db", second_board, 1) == ("Dark mode", "Alice", 1)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("DISCORD_SHARDS", "two"), ("DISCORD_SHARDS", "-2"), ("LODESTAR_DISCORD_CORE", "fast")],
)
def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path, setting: str, value: str) -> None:
    env = serve_env(tmp_path, DISCORD_TOKEN=BOT_TOKEN, **{setting: value})
    result = subprocess.run(
        SERVE, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"lodestar serve discord: {setting} is not valid"), line
    assert repr(value) in line


def test_sigterm_stops_serving_cleanly_and_at_once(tmp_path: Path) -> None:
    import signal

    with FakeDiscord() as fake:
        env = serve_env(tmp_path, DISCORD_TOKEN=BOT_TOKEN, DISCORD_API_URL=fake.api_url)
        with serving(env, tmp_path) as server:
            server.until(lambda t: fake.wait_ready(t))
            server.process.send_signal(signal.SIGTERM)
            code = server.process.wait(20)
    assert code == 0, server.output()
    assert "Traceback" not in server.output()
