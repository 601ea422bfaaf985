"""``lodestar run``: everything in one process, for a small team. Slack (HTTP, or
Socket Mode when ``SLACK_APP_TOKEN`` is set) and Discord, for whichever tokens are
set, and the scheduler delivering through their messengers; SQLite by default."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import NoReturn

import discord
from pydantic import ValidationError

from adapters.discord.settings import one_line
from adapters.scheduler import Scheduler, StartupError, rates_from_env
from adapters.slack.settings import MissingSetting
from bot.app import Lodestar, SchemaOutOfDate, find_config
from bot.nsm.config import ConfigError

log = logging.getLogger(__name__)


async def serve_everything(lodestar: Lodestar, port: int | None) -> None:
    rates = rates_from_env()  # a bad setting stops start-up before anything else
    running: list[asyncio.Task[object]] = []
    closers = []
    if os.environ.get("SLACK_BOT_TOKEN") or os.environ.get("SLACK_CLIENT_ID"):
        import uvicorn

        from adapters.slack.app import build_slack_bot
        from adapters.slack.server import create_web_app
        from adapters.slack.settings import SlackSettings

        socket_mode = bool(os.environ.get("SLACK_APP_TOKEN"))
        settings = SlackSettings().check(socket_mode=socket_mode)
        bot = build_slack_bot(lodestar, settings)
        web = create_web_app(
            bot,
            events=not socket_mode,
            socket_mode_token=settings.app_token if socket_mode else None,
            dispatch=False,  # the scheduler delivers the outbox
        )
        config = uvicorn.Config(
            web, host=settings.host, port=port or settings.port, log_level="warning"
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        running.append(asyncio.create_task(server.serve()))
        closers.append(lambda: setattr(server, "should_exit", True))
        log.info("Slack: %s", "Socket Mode" if socket_mode else f"HTTP on port {config.port}")
    if os.environ.get("DISCORD_TOKEN"):
        import discord

        from adapters.discord.bot import DiscordBot
        from adapters.discord.settings import DiscordSettings

        settings_d = DiscordSettings().check()
        if settings_d.api_url:
            discord.http.Route.BASE = settings_d.api_url.rstrip("/")
        dbot = DiscordBot(lodestar, settings_d, shards=settings_d.shards)
        running.append(asyncio.create_task(dbot.client.start(settings_d.token or "")))
        closers.append(lambda: asyncio.ensure_future(dbot.close()))
        log.info("Discord: connecting to the gateway")
    if not running:
        log.warning("no SLACK_BOT_TOKEN nor DISCORD_TOKEN: only the scheduler runs")
    scheduler = Scheduler(lodestar, lodestar.messengers, rates=rates)  # the adapters'
    scheduler.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)
    stop = asyncio.create_task(stopping.wait())
    try:
        done, _ = await asyncio.wait({stop, *running}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stop:
                task.result()  # an adapter that stopped on its own: say why
    finally:
        scheduler.stop()
        for close in closers:
            close()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def run_all(port: int | None = None, db: str | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        lodestar = Lodestar.open(db, config=find_config())
    except (SchemaOutOfDate, ConfigError, FileNotFoundError) as error:
        _fail(str(error))
    try:
        asyncio.run(serve_everything(lodestar, port))
    except (MissingSetting, StartupError) as error:
        _fail(str(error))
    except ValidationError as error:  # PORT=notaport, say
        _fail(one_line(error))
    except discord.LoginFailure as error:
        _fail(f"Discord refused DISCORD_TOKEN ({error}).")
    except discord.PrivilegedIntentsRequired:
        _fail(
            "the Message Content intent is not enabled for this Discord bot: turn it on, or "
            "set LODESTAR_DISCORD_MESSAGE_CONTENT=false (see adapters/discord/README.md)."
        )
    except KeyboardInterrupt:
        pass


def _fail(message: str) -> NoReturn:
    print(f"lodestar run: {message}", file=sys.stderr)
    raise SystemExit(2)
