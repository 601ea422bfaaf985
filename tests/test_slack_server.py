"""How Lodestar is served on Slack: Socket Mode, `lodestar serve slack`, settings, OAuth routes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.slack.app import build_slack_bot
from adapters.slack.server import create_web_app
from adapters.slack.settings import MissingSetting, SlackSettings
from bot.app import Lodestar
from tests.background_server import stop_process
from tests.slack_fake import (
    APP_TOKEN,
    BOT_TOKEN,
    FakeSlackWebAPI,
    FakeSocketMode,
    fake_slack_fixture,
    payloads,
)
from tests.slack_support import ALICE, BOB, GENERAL, SECRET, caller, seed_people, settings_for

fake = fake_slack_fixture("fake")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def socket_mode(fake: FakeSlackWebAPI) -> Iterator[FakeSocketMode]:
    with FakeSocketMode(fake) as sm:
        yield sm


@pytest.mark.anyio
async def test_socket_mode_command_and_reaction(
    app: Lodestar, fake: FakeSlackWebAPI, socket_mode: FakeSocketMode
) -> None:
    seed_people(fake)
    bot = build_slack_bot(app, settings_for(fake, app_token=APP_TOKEN, signing_secret=None))
    web = create_web_app(bot, events=False, socket_mode_token=APP_TOKEN, dispatch=False)

    async with web.router.lifespan_context(web):
        await socket_mode.wait_connected_async()
        command = payloads.slash_command(
            "/feedback", "Import Figma files", response_url=fake.response_url()
        )
        ack = await socket_mode.wait_for_ack_async(socket_mode.push(command))
        assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
        assert "Logged as #1" in ack.payload["text"]
        (card,) = await fake.wait_for_async("chat.postMessage")
        await bot.tasks.drain()

        vote = payloads.reaction_added("+1", user=BOB, ts=card.response["ts"])
        assert (await socket_mode.wait_for_ack_async(socket_mode.push(vote))).payload is None
        await fake.wait_for_async("chat.update")
        await bot.tasks.drain()

    assert fake.last("apps.connections.open").token == APP_TOKEN
    assert card.params["channel"] == GENERAL
    assert app.board.show(caller(), 1).demand == 2
    assert sorted(app.board.who(caller(), 1).people) == ["alice", "bob"]


@pytest.mark.anyio
async def test_serving_starts_by_building_the_duplicate_indexes_in_the_background(
    app: Lodestar, fake: FakeSlackWebAPI
) -> None:
    app.board.capture(caller(), "dark mode")
    fresh = Lodestar.build(app.db, app.clock)  # a new process: no index in memory
    bot = build_slack_bot(fresh, settings_for(fake))
    web = create_web_app(bot, dispatch=False)

    async with web.router.lifespan_context(web):
        assert bot.warming is not None
        await asyncio.wrap_future(bot.warming)

    with app.db.uow() as uow:
        (board_id,) = {w.board_id for w in uow.workspaces.all()}
    assert fresh.board.finder.ready(board_id)


def test_settings_name_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("PORT", "4321")

    settings = SlackSettings()
    assert (settings.bot_token, settings.port) == (BOT_TOKEN, 4321)
    with pytest.raises(MissingSetting, match=r"^SLACK_SIGNING_SECRET is not set"):
        settings.check(socket_mode=False)
    with pytest.raises(MissingSetting, match=r"^SLACK_APP_TOKEN is not set"):
        settings.check(socket_mode=True)
    monkeypatch.setenv("SLACK_CLIENT_ID", "123.456")
    with pytest.raises(MissingSetting, match=r"^SLACK_CLIENT_SECRET is not set"):
        SlackSettings().check(socket_mode=False)


@pytest.mark.anyio
async def test_oauth_install_stores_the_workspace_in_our_database(
    app: Lodestar, fake: FakeSlackWebAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_people(fake)
    settings = settings_for(fake, client_id="111.222", client_secret="shh", bot_token=None)
    bot = build_slack_bot(app, settings)
    fake.on(
        "oauth.v2.access",
        {
            "access_token": "xoxb-installed-token",
            "token_type": "bot",
            "scope": "commands,chat:write",
            "bot_user_id": payloads.BOT_USER_ID,
            "app_id": payloads.API_APP_ID,
            "team": {"id": payloads.TEAM_ID, "name": payloads.TEAM_NAME},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": ALICE},
        },
    )
    web = create_web_app(bot, dispatch=False)
    transport = httpx.ASGITransport(app=web)
    async with httpx.AsyncClient(transport=transport, base_url="https://slack.test") as http:
        install = await http.get("/slack/install")
        state = http.cookies["slack-app-oauth-state"]
        done = await http.get("/slack/oauth_redirect", params={"code": "c0de", "state": state})
        health = await http.get("/healthz")
        req = payloads.slash_command("/feedback", "SSO", response_url=fake.response_url())
        resp = await http.post("/slack/events", content=req.body, headers=req.headers(SECRET))
        await bot.tasks.drain()
    await bot.close()

    assert install.status_code == 200 and "client_id=111.222" in install.text
    assert done.status_code == 200, done.text
    assert fake.last("oauth.v2.access").params["code"] == "c0de"
    assert health.json() == {"status": "ok"}
    assert resp.status_code == 200 and "#1" in resp.json()["text"]
    assert fake.last("chat.postMessage").token == "xoxb-installed-token"
    messenger_client = await bot.client_for(payloads.TEAM_ID)
    assert messenger_client.token == "xoxb-installed-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_lodestar_serve_slack_answers_a_signed_feedback_command(
    fake: FakeSlackWebAPI, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SLACK_API_URL": fake.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'lodestar.db'}",
        "LODESTAR_HOST": "127.0.0.1",
    }
    env.pop("LODESTAR_CONFIG", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "serve", "slack", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stdout.read().decode() if server.stdout else ""
                pytest.fail(f"lodestar serve slack did not come up:\n{output}")
            time.sleep(0.05)

        req = payloads.slash_command(
            "/feedback", "Dark mode, please", user_id=ALICE, response_url=fake.response_url()
        )
        started = time.monotonic()
        resp = httpx.post(
            f"{base}/slack/events", content=req.body, headers=req.headers(SECRET), timeout=3
        )
        elapsed = time.monotonic() - started

        assert resp.status_code == 200 and elapsed < 3
        assert "#1" in resp.json()["text"]
        (card,) = fake.wait_for("chat.postMessage", timeout=3)
        assert card.params["channel"] == GENERAL and "#1" in card.params["text"]
        forged = httpx.post(
            f"{base}/slack/events",
            content=req.body,
            headers=req.headers("wrong-secret"),
            timeout=3,
        )
        assert forged.status_code == 401
    finally:
        stop_process(server)


def test_serve_without_tokens_fails_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    result = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "serve", "slack", "--port", "1"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("lodestar serve slack: SLACK_BOT_TOKEN is not set")
    )
