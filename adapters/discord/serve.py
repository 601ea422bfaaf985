"""``lodestar serve discord``: the gateway connection, the commands and the outbox
loop in one process, until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys

import aiohttp
import discord
from pydantic import ValidationError

from adapters.discord.bot import DiscordBot
from adapters.discord.settings import DiscordSettings, MissingSetting, one_line
from bot.app import Lodestar

log = logging.getLogger(__name__)

#: Discord's REST base when DISCORD_API_URL is not set.
DEFAULT_API = discord.http.Route.BASE


async def recommended_shards(settings: DiscordSettings) -> int:
    """How many shards Discord recommends for this bot (``GET /gateway/bot``)."""
    base = (settings.api_url or DEFAULT_API).rstrip("/")
    headers = {"Authorization": f"Bot {settings.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/gateway/bot", headers=headers) as answer,
    ):
        if answer.status == 401:
            raise discord.LoginFailure("Improper token has been passed.")
        answer.raise_for_status()
        return int((await answer.json()).get("shards") or 1)


async def run(lodestar: Lodestar, settings: DiscordSettings) -> None:
    shards = settings.shards or await recommended_shards(settings)
    bot = DiscordBot(lodestar, settings, shards=shards)
    bot.dispatch_loop = True
    log.info("Lodestar on Discord: %d shard(s)", shards)

    async def frozen() -> None:
        # What start-up made lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise stall every interaction in flight.
        await bot.client.wait_until_ready()
        gc.collect()
        gc.freeze()

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)
    async with bot.client:
        client = asyncio.create_task(bot.client.start(settings.token or ""))
        freezing = asyncio.create_task(frozen())
        stop = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait({client, stop}, return_when=asyncio.FIRST_COMPLETED)
            if client.done():
                client.result()  # a login or intents error ends serving: say why
        finally:
            freezing.cancel()
            await bot.close()
            client.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client


def serve(db: str | None = None) -> None:
    """Run Lodestar on Discord until interrupted (the ``lodestar serve discord`` command)."""
    from bot.app import SchemaOutOfDate, find_config
    from bot.nsm.config import ConfigError

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = DiscordSettings().check()
    except MissingSetting as error:
        print(f"lodestar serve discord: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    except ValidationError as error:
        print(f"lodestar serve discord: {one_line(error)}", file=sys.stderr)
        raise SystemExit(2) from error
    if settings.api_url:
        discord.http.Route.BASE = settings.api_url.rstrip("/")
    try:
        lodestar = Lodestar.open(db or settings.database_url, config=find_config())
    except (SchemaOutOfDate, ConfigError, FileNotFoundError) as error:
        print(f"lodestar serve discord: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    try:
        asyncio.run(run(lodestar, settings))
    except discord.LoginFailure as error:
        print(f"lodestar serve discord: Discord refused DISCORD_TOKEN ({error}).", file=sys.stderr)
        raise SystemExit(2) from error
    except discord.PrivilegedIntentsRequired as error:
        print(
            "lodestar serve discord: the Message Content intent is not enabled for this bot. "
            "Turn it on (Developer Portal › your application › Bot › Privileged Gateway "
            "Intents), or set LODESTAR_DISCORD_MESSAGE_CONTENT=false to run without it "
            "(💡 then asks people to use the “Log as feedback” menu).",
            file=sys.stderr,
        )
        raise SystemExit(2) from error
    except KeyboardInterrupt:
        pass
