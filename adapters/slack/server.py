"""``lodestar serve slack``: Bolt's AsyncApp behind its FastAPI adapter under uvicorn,
or over Socket Mode; the outbox dispatcher runs beside it in the same event loop.

``create_web_app`` builds the ASGI application alone, so other parts of Lodestar
(the Web API) can mount their routes on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.adapter.starlette.async_handler import to_starlette_response

from adapters.slack import front_door
from adapters.slack.app import SlackBot, build_slack_bot
from adapters.slack.settings import MissingSetting, SlackSettings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def create_web_app(
    bot: SlackBot,
    *,
    events: bool = True,
    socket_mode_token: str | None = None,
    dispatch: bool = True,
) -> FastAPI:
    """``/slack/events`` (unless ``events`` is False), ``/healthz``, the OAuth routes when
    configured; its lifespan runs the dispatcher loop and, with a token, Socket Mode."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await bot.start()
        background = []
        if dispatch:
            background.append(asyncio.create_task(bot.outbox.forever()))
        socket = None
        if socket_mode_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket = AsyncSocketModeHandler(bot.app, socket_mode_token)
            await socket.connect_async()
        try:
            yield
        finally:
            if socket is not None:
                await socket.close_async()
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await bot.close()

    web = FastAPI(title="Lodestar", lifespan=lifespan, docs_url=None, redoc_url=None)
    web.state.slack = bot
    handler = AsyncSlackRequestHandler(bot.app)
    door = front_door.FrontDoor(bot.settings.signing_secret)

    @web.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if events:

        @web.post(EVENTS_PATH)
        async def slack_events(request: Request) -> Response:
            admitted = await door.admit(request)
            if isinstance(admitted, Response):
                return admitted
            return to_starlette_response(await front_door.dispatch(bot.app, request, admitted))

    if bot.app.oauth_flow is not None:
        flow = bot.app.oauth_flow

        @web.get(flow.install_path)
        async def slack_install(request: Request) -> Response:
            return await handler.handle(request)

        @web.get(flow.redirect_uri_path)
        async def slack_oauth_redirect(request: Request) -> Response:
            return await handler.handle(request)

    return web


def serve(port: int | None = None, socket_mode: bool = False, db: str | None = None) -> None:
    """Run Lodestar on Slack until interrupted (the ``lodestar serve slack`` command)."""
    import uvicorn

    from bot.app import Lodestar, SchemaOutOfDate, find_config
    from bot.nsm.config import ConfigError

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = SlackSettings().check(socket_mode=socket_mode)
    except MissingSetting as error:
        print(f"lodestar serve slack: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    try:
        lodestar = Lodestar.open(db or settings.database_url, config=find_config())
    except (SchemaOutOfDate, ConfigError, FileNotFoundError) as error:
        print(f"lodestar serve slack: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    bot = build_slack_bot(lodestar, settings)
    web = create_web_app(
        bot,
        events=not socket_mode,
        socket_mode_token=settings.app_token if socket_mode else None,
    )
    port = port or settings.port
    mode = "Socket Mode" if socket_mode else f"HTTP at {EVENTS_PATH}"
    log.info("Lodestar on Slack: %s, port %s", mode, port)
    uvicorn.run(web, host=settings.host, port=port, log_level="warning", access_log=False)
