"""A local stand-in for Discord — REST API v10 and the gateway — on one 127.0.0.1 port.

Point the real discord.py at it (``fake.point_discord_py(monkeypatch)`` or the fixture from
:func:`fake_discord_fixture`), let the client connect, then drive it: ``dispatch`` gateway
events, ``drop_connection`` to force a RESUME, inject failures and rate limits, and assert on
every recorded REST call and on the small world model (guilds, channels, messages, reactions,
commands, interactions).

The server runs an aiohttp app in a daemon thread with its own event loop, like the Slack
stand-in, so it serves sync and async tests alike; waits come blocking and ``_async``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from aiohttp import web

from tests.background_server import BackgroundServer, Notifier, StandIn

from . import payloads as p
from .gateway import Dispatch, Gateway, Intent, Op, ReceivedOp, Session
from .mentions import Pings, pings
from .ratelimits import Denial, Injected, RateLimiter, Simulated, Window, server_error
from .ratelimits import too_many_requests as _too_many_requests
from .rest import RestApi
from .routes import (
    ApiError,
    ApiRequest,
    Call,
    Handler,
    RouteSpec,
    RouteTable,
    UploadedFile,
    matches,
)
from .state import InteractionRecord, World

#: Routes that authenticate with the interaction token in the path, not a bot token.
_TOKEN_IN_PATH = ("/webhooks/", "/interactions/")


def _json_response(status: int, body: Any, headers: Mapping[str, str]) -> web.Response:
    if body is None:
        return web.Response(status=204, headers=dict(headers))
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(
        status=status, body=data, headers={**headers, "Content-Type": "application/json"}
    )


def application_object(application_id: int, flags: int, guild_count: int) -> dict[str, Any]:
    """What ``GET /oauth2/applications/@me`` answers (no interactions endpoint URL, so
    interactions come over the gateway)."""
    return {
        "id": str(application_id),
        "name": p.BOT_NAME,
        "icon": None,
        "description": "Feedback board and North Star Metric, in chat.",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": flags,
        "owner": p.alice(),
        "team": None,
        "bot": p.bot_user(),
        "hook": True,
        "is_monetized": False,
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "tags": [],
        "approximate_guild_count": guild_count,
        "install_params": {
            "scopes": ["bot", "applications.commands"],
            "permissions": str(p.Permission.BOT),
        },
        "integration_types_config": {"0": {}},
    }


#: GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE: an unverified bot allowed the
#: message-content intent, with slash commands.
DEFAULT_APPLICATION_FLAGS = (1 << 19) | (1 << 23)


class FakeDiscord(StandIn[RouteSpec, Call]):
    """Discord stand-in. ``with FakeDiscord() as fake: ...`` or ``start()``/``stop()``.

    `shards` is what ``GET /gateway/bot`` recommends (AutoShardedClient uses it).
    `bucket_limit` requests per `bucket_window` seconds per rate-limit bucket are announced in
    headers and enforced (None: unlimited). `default_guild` seeds ``payloads.default_guild()``
    with Alice (owner, Product role) and Bob as members. `echo` sends the bot's own changes
    back on the gateway, as Discord does (MESSAGE_CREATE for a message it posted, …).
    """

    def __init__(
        self,
        *,
        token: str = p.BOT_TOKEN,
        application_id: int = p.APPLICATION_ID,
        application_flags: int = DEFAULT_APPLICATION_FLAGS,
        shards: int = 1,
        bucket_limit: int | None = 50,
        bucket_window: float = 1.0,
        default_guild: bool = True,
        echo: bool = True,
    ) -> None:
        self.token = token
        self.application_id = application_id
        self.application_flags = application_flags
        self.shards = shards
        self.default_guild = default_guild
        self.echo = echo
        self._server = BackgroundServer(self._make_app, "fake-discord")
        self._lock = threading.RLock()
        self._notifier = Notifier()
        self._calls: list[Call] = []
        self._custom = RouteTable()
        self._limiter = RateLimiter(bucket_limit, bucket_window)
        self.world = self._new_world()
        self.gateway = Gateway(
            self.world,
            self._lock,
            self._notifier,
            token,
            lambda: self.gateway_url,
            lambda: self._server.loop,
        )

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.origin

    @property
    def api_url(self) -> str:
        """What ``discord.http.Route.BASE`` takes: ``http://127.0.0.1:PORT/api/v10``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """``ws://127.0.0.1:PORT``: what ``GET /gateway/bot`` answers and
        ``DiscordWebSocket.DEFAULT_GATEWAY`` takes. RESUMEs go to ``…/resume``."""
        return f"ws://127.0.0.1:{self._server.port}"

    def point_discord_py(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Aim discord.py's REST base and default gateway at this fake, for one test."""
        import discord.http
        import yarl
        from discord.gateway import DiscordWebSocket

        monkeypatch.setattr(discord.http.Route, "BASE", self.api_url)
        monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url))

    # --- seeding --------------------------------------------------------------------------------

    def add_guild(self, guild: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Seed a guild (a ``payloads.guild(...)`` dict, or built from `kwargs`); it is in the
        next READY/GUILD_CREATE of its shard. Returns the stored payload."""
        with self._lock:
            return self.world.add_guild(guild if guild is not None else p.guild(**kwargs))

    def add_user(self, user: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self.world.add_user(user)

    def add_member(
        self,
        guild_id: p.Snowflake,
        user: Mapping[str, Any],
        *,
        roles: tuple[p.Snowflake, ...] = (),
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Make `user` a member of the guild (``GET /guilds/{id}/members/{uid}`` finds it)."""
        with self._lock:
            return self.world.add_member(str(guild_id), p.member(user, roles=roles, **kwargs))

    def add_channel(self, channel: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self.world.add_channel(dict(channel))

    def add_message(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Store a message as already existing (``payloads.message(...)``), not dispatched."""
        with self._lock:
            stored = {k: v for k, v in message.items() if k != "member"}
            return self.world.store(stored)

    def block_dms(self, user_id: p.Snowflake, blocked: bool = True) -> None:
        """Sending to `user_id`'s DM channel answers 403 code 50007, as for a user who closed
        DMs or blocked the bot (opening the channel still works, as on Discord)."""
        with self._lock:
            if blocked:
                self.world.dm_blocked.add(str(user_id))
            else:
                self.world.dm_blocked.discard(str(user_id))

    # --- gateway controls -------------------------------------------------------------------------

    def dispatch(
        self,
        event: str,
        data: Mapping[str, Any],
        *,
        shard: int | str | None = None,
        ignore_intents: bool = False,
    ) -> list[Dispatch]:
        """Send gateway event `event` (``"INTERACTION_CREATE"``, ``"MESSAGE_CREATE"``…).

        Goes to shard `shard` (``"all"`` for every shard), by default to the shard of the
        event's ``guild_id`` (DMs: shard 0). Honours the session's intents unless
        `ignore_intents` — [] back means no session asked for it. A disconnected session keeps
        it for its RESUME. The fake's world follows: an INTERACTION_CREATE becomes answerable,
        a MESSAGE_CREATE is stored, reactions and deletions apply.
        """
        payload = json.loads(json.dumps(data))
        with self._lock:
            if not self.gateway.targets(payload, shard):
                raise AssertionError(
                    f"no gateway session for {event} (shard={shard!r}); did the client "
                    f"connect? wait_ready() first. Sessions: {sorted(self.gateway.current)}"
                )
            self._apply(event, payload)
            sent = self.gateway.dispatch(event, payload, shard, ignore_intents=ignore_intents)
        self._notifier.notify()  # never under the lock: a blocking waiter's predicate takes it
        return sent

    def _apply(self, event: str, data: dict[str, Any]) -> None:
        world = self.world
        if event == "INTERACTION_CREATE":
            world.register_interaction(data)
            channel = data.get("channel") or {}
            if channel.get("type") == p.ChannelType.DM and channel["id"] not in world.channels:
                world.add_channel(dict(channel))
        elif event == "MESSAGE_CREATE":
            channel_id = str(data["channel_id"])
            if channel_id not in world.channels:
                if data.get("guild_id"):
                    raise ValueError(
                        f"MESSAGE_CREATE in channel {channel_id}, which guild {data['guild_id']} "
                        "does not have: add it with fake.add_channel(payloads.text_channel(...))"
                    )
                world.add_channel(p.dm_channel(data["author"], channel_id))  # opened implicitly
            world.add_user(data["author"])
            world.store({k: v for k, v in data.items() if k != "member"})
        elif event == "MESSAGE_DELETE" and data.get("id") in world.messages:
            world.remove(str(data["id"]))
        elif event in ("MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE"):
            message = world.messages.get(str(data.get("message_id")))
            if message is not None:
                change = world.react if event.endswith("ADD") else world.unreact
                change(message, data["emoji"], str(data["user_id"]))

    def _echo(self, event: str, data: dict[str, Any]) -> None:
        if self.echo:
            self.gateway.dispatch(event, data)

    def _content_allowed(self) -> bool:
        """Whether the app identified with the Message Content intent (or has not yet)."""
        identified = [i["intents"] for i in self.identifies]
        return not identified or bool(identified[-1] & Intent.MESSAGE_CONTENT)

    def drop_connection(
        self, shard: int | None = None, code: int = 4000, reason: str = "dropped by test"
    ) -> int:
        """Close the live socket of `shard` (None: every shard) with `code`, after what was
        already queued on it. discord.py reconnects and RESUMEs (codes 4007/4009/1000/1001
        also end the session, so its RESUME gets INVALID_SESSION). Returns sockets closed."""
        return self.gateway.drop(shard, code, reason)

    def invalidate_session(self, shard: int | None = None, resumable: bool = False) -> int:
        """Send INVALID_SESSION (op 9): the client then IDENTIFYs afresh (or RESUMEs)."""
        return self.gateway.send_op(shard, Op.INVALID_SESSION, resumable)

    def request_reconnect(self, shard: int | None = None) -> int:
        """Send RECONNECT (op 7): the client closes and RESUMEs."""
        return self.gateway.send_op(shard, Op.RECONNECT)

    def request_heartbeat(self, shard: int | None = None) -> int:
        """Send HEARTBEAT (op 1): the client must heartbeat at once."""
        return self.gateway.send_op(shard, Op.HEARTBEAT)

    @property
    def heartbeat_interval(self) -> float:
        """Seconds HELLO announces between heartbeats (default 41.25, as Discord)."""
        return self.gateway.heartbeat_interval

    @heartbeat_interval.setter
    def heartbeat_interval(self, seconds: float) -> None:
        self.gateway.heartbeat_interval = seconds

    @property
    def sessions(self) -> dict[int, Session]:
        """The current session of each shard."""
        with self._lock:
            return dict(self.gateway.current)

    @property
    def identifies(self) -> list[dict[str, Any]]:
        """Every IDENTIFY ``d`` received (token, intents, shard, properties…), in order."""
        return [o.d for o in self.ops_received(Op.IDENTIFY)]

    def ops_received(self, op: int | None = None, shard: int | None = None) -> list[ReceivedOp]:
        """Payloads the client sent, optionally of one opcode / shard."""
        with self._lock:
            return [
                o
                for o in self.gateway.received
                if (op is None or o.op == op) and (shard is None or o.shard == shard)
            ]

    @property
    def connections(self) -> list[Any]:
        """Every websocket so far (``.compress``, ``.path``, ``.close_code``, ``.shard``…)."""
        with self._lock:
            return list(self.gateway.connections)

    @property
    def dispatched(self) -> list[Dispatch]:
        """Every dispatch sequenced so far, READY and GUILD_CREATEs included."""
        with self._lock:
            return list(self.gateway.dispatched)

    def _readies(self, shard: int | None) -> list[Session]:
        with self._lock:
            return [s for s in self.gateway.readies if shard is None or s.shard_id == shard]

    def wait_ready(
        self, timeout: float = 5.0, *, shard: int | None = None, count: int = 1
    ) -> list[Session]:
        """Block until `count` READYs (with their GUILD_CREATEs) went out; returns sessions.
        The client still has to process them: await ``client.wait_until_ready()`` for that."""
        if not self._notifier.wait(lambda: len(self._readies(shard)) >= count, timeout):
            self._gateway_timeout(f"{count} READY (shard={shard})", timeout)
        return self._readies(shard)

    async def wait_ready_async(
        self, timeout: float = 5.0, *, shard: int | None = None, count: int = 1
    ) -> list[Session]:
        """:meth:`wait_ready` for async tests."""
        ok = await self._notifier.wait_async(lambda: len(self._readies(shard)) >= count, timeout)
        if not ok:
            self._gateway_timeout(f"{count} READY (shard={shard})", timeout)
        return self._readies(shard)

    def wait_for_op(
        self, op: int, *, count: int = 1, shard: int | None = None, timeout: float = 5.0
    ) -> list[ReceivedOp]:
        """Block until the client sent `count` payloads of opcode `op` (e.g. ``Op.RESUME``)."""
        if not self._notifier.wait(lambda: len(self.ops_received(op, shard)) >= count, timeout):
            self._gateway_timeout(f"{count} op {Op(op).name}", timeout)
        return self.ops_received(op, shard)

    async def wait_for_op_async(
        self, op: int, *, count: int = 1, shard: int | None = None, timeout: float = 5.0
    ) -> list[ReceivedOp]:
        """:meth:`wait_for_op` for async tests."""
        ok = await self._notifier.wait_async(
            lambda: len(self.ops_received(op, shard)) >= count, timeout
        )
        if not ok:
            self._gateway_timeout(f"{count} op {Op(op).name}", timeout)
        return self.ops_received(op, shard)

    def _resumed(self, shard: int | None) -> int:
        with self._lock:
            return sum(
                s.resumes for s in self.gateway.sessions.values() if shard in (None, s.shard_id)
            )

    async def wait_resumed_async(
        self, *, count: int = 1, shard: int | None = None, timeout: float = 5.0
    ) -> None:
        """Await until `count` RESUMEs were accepted (replay and RESUMED queued)."""
        if not await self._notifier.wait_async(lambda: self._resumed(shard) >= count, timeout):
            self._gateway_timeout(f"{count} accepted RESUME", timeout)

    def wait_resumed(
        self, *, count: int = 1, shard: int | None = None, timeout: float = 5.0
    ) -> None:
        """Block until `count` RESUMEs were accepted."""
        if not self._notifier.wait(lambda: self._resumed(shard) >= count, timeout):
            self._gateway_timeout(f"{count} accepted RESUME", timeout)

    def _gateway_timeout(self, what: str, timeout: float) -> None:
        ops = ", ".join(f"{Op(o.op).name}@{o.shard}" for o in self.ops_received()) or "none"
        raise AssertionError(f"expected {what} within {timeout}s; client sent: {ops}")

    # --- REST: customising, failures, rate limits -----------------------------------------------

    def on(self, route: str, handler: Handler | Any) -> None:
        """Answer ``"METHOD /template"`` with ``handler(ApiRequest)`` (may raise ApiError) or a
        fixed JSON body. Overrides a built-in route, or adds one the fake lacks."""
        method, _, template = route.partition(" ")
        answer = handler if callable(handler) else (lambda _r: handler)
        with self._lock:
            self._custom.add(method.upper(), template, answer)

    def off(self, route: str) -> None:
        """Drop what :meth:`on` added for ``"METHOD /template"``."""
        method, _, template = route.partition(" ")
        with self._lock:
            self._custom.remove(method.upper(), template)

    def fail_next(
        self,
        route: RouteSpec,
        status: int = 429,
        *,
        retry_after: float = 0.2,
        global_: bool = False,
        times: int = 1,
        code: int = 0,
        message: str | None = None,
    ) -> None:
        """Fail the next `times` requests matching `route` (``"POST /channels/{channel_id}/
        messages"``, a bare template, ``"*"`` or a predicate over ApiRequest).

        429: Discord's rate-limit answer with `retry_after` (``global_``: a global limit).
        500/502/503/504: a server error. Other statuses: ``{"code": code, "message": …}``.
        """
        denial = self._denial(status, retry_after, global_, code, message)
        with self._lock:
            self._limiter.injected.append(Injected(route, denial, times))

    def fail_for(
        self,
        route: RouteSpec,
        status: int = 429,
        *,
        retry_after: float = 0.2,
        global_: bool = False,
        code: int = 0,
        message: str | None = None,
    ) -> Callable[[], None]:
        """Fail every request matching `route` until the returned undo is called."""
        failure = Injected(route, self._denial(status, retry_after, global_, code, message), None)
        with self._lock:
            self._limiter.injected.append(failure)

        def undo() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._limiter.injected.remove(failure)

        return undo

    @staticmethod
    def _denial(
        status: int, retry_after: float, global_: bool, code: int, message: str | None
    ) -> Callable[[], Denial]:
        if status == 429:
            scope = "global" if global_ else "user"
            return lambda: _too_many_requests(retry_after, scope=scope, global_=global_)
        if status >= 500:
            return lambda: server_error(status)
        return lambda: Denial(status, {"message": message or f"{status}: Error", "code": code})

    def rate_limit(
        self, route: RouteSpec | None = None, per_second: int = 50, *, global_: bool | None = None
    ) -> Callable[[], None]:
        """Allow `per_second` requests per second to `route` across all its channels (None:
        to every route — Discord's global limit); beyond that answer real 429s with the
        ``retry_after`` until the window reopens. Returns an undo."""
        is_global = route is None if global_ is None else global_
        limit = Simulated(route or "*", Window(per_second, 1.0), is_global)
        with self._lock:
            self._limiter.simulated.append(limit)

        def undo() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._limiter.simulated.remove(limit)

        return undo

    # --- REST: inspecting -----------------------------------------------------------------------

    def calls_to(self, route: RouteSpec, template: str | None = None) -> list[Call]:
        """Calls matching ``calls_to("POST", "/channels/{channel_id}/messages")`` or
        ``calls_to("POST /channels/{channel_id}/messages")`` or any :data:`RouteSpec`."""
        return super().calls_to(f"{route} {template}" if template is not None else route)

    def last(self, route: RouteSpec, template: str | None = None) -> Call:
        """The most recent matching call; AssertionError if there was none."""
        return super().last(f"{route} {template}" if template is not None else route)

    def _selects(self, spec: RouteSpec, call: Call) -> bool:
        return matches(spec, call)

    def _label(self, call: Call) -> str:
        return f"{call.key}({call.status})"

    def messages_in(self, channel_id: p.Snowflake) -> list[dict[str, Any]]:
        """Messages now in a channel, oldest first (posted, seeded or dispatched; not
        ephemeral ones, which live only in :meth:`interaction_responses`)."""
        with self._lock:
            return list(self.world.history(str(channel_id)))

    def message(self, message_id: p.Snowflake) -> dict[str, Any] | None:
        """Any stored message by id (ephemeral included), or None."""
        with self._lock:
            return self.world.messages.get(str(message_id))

    def dm_channel_id(self, user_id: p.Snowflake) -> str | None:
        with self._lock:
            return self.world.dm_channels.get(str(user_id))

    def dms_to(self, user_id: p.Snowflake) -> list[dict[str, Any]]:
        """Messages delivered in the DM channel with `user_id` (refused ones are not)."""
        channel_id = self.dm_channel_id(user_id)
        return [] if channel_id is None else self.messages_in(channel_id)

    def interaction(self, interaction_id: p.Snowflake) -> InteractionRecord:
        """The fake's record of a dispatched interaction (``response_type``, ``original_id``,
        ``followup_ids``)."""
        with self._lock:
            record = self.world.interactions.get(str(interaction_id))
        if record is None:
            raise AssertionError(f"interaction {interaction_id} was never dispatched")
        return record

    def interaction_responses(self, interaction_id: p.Snowflake) -> list[Call]:
        """Every call answering one interaction: its callback, then followups and edits of the
        original, in order (failed attempts included; filter on ``Call.ok``)."""
        record = self.interaction(interaction_id)
        app = str(self.application_id)

        def answers(c: Call) -> bool:
            if c.route.startswith("/interactions/"):
                return c.params.get("webhook_id") == record.id
            return (
                c.route.startswith("/webhooks/")
                and c.params.get("webhook_id") == app
                and c.params.get("webhook_token") == record.token
            )

        return self.calls_to(answers)

    def commands(self, guild_id: p.Snowflake | None = None) -> list[dict[str, Any]]:
        """Registered application commands: global, or of one guild."""
        with self._lock:
            return list(self.world.commands(None if guild_id is None else str(guild_id)).values())

    def reactions_on(self, message_id: p.Snowflake) -> dict[str, list[str]]:
        """``{"👍": [user ids…]}`` for a stored message."""
        with self._lock:
            return {
                key: list(users)
                for (mid, key), users in self.world.reactors.items()
                if mid == str(message_id)
            }

    @staticmethod
    def pings(call_or_body: Call | Mapping[str, Any]) -> Pings:
        """Who a sent message would notify under its ``allowed_mentions``."""
        body = call_or_body.message_body if isinstance(call_or_body, Call) else call_or_body
        return pings(body)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def reset(self) -> None:
        """Forget calls, failures, rate limits and the world (re-seeded as at start). Gateway
        sessions stay, so a connected client stays connected."""
        with self._lock:
            self._calls.clear()
            self._limiter.reset()
            self._reset_world()

    # --- plumbing ---------------------------------------------------------------------------------

    def _new_world(self) -> World:
        """A fresh world (seeded with the default guild if asked) and its REST routes."""
        world = World(
            application_object(self.application_id, self.application_flags, 0), p.bot_user()
        )
        self._builtin = RouteTable()
        RestApi(world, self._echo, self._gateway_bot, self._content_allowed).install(self._builtin)
        if self.default_guild:
            world.add_guild(p.default_guild())
            gid = str(p.GUILD_ID)
            world.add_member(gid, p.member(p.alice(), roles=[p.PRODUCT_ROLE_ID]))
            world.add_member(gid, p.member(p.bob()))
        return world

    def _reset_world(self) -> None:
        with self._lock:
            self.world = self._new_world()
            self.gateway.world = self.world

    def _gateway_bot(self) -> dict[str, Any]:
        identified = len(self.gateway.readies)
        return {
            "url": self.gateway_url,
            "shards": self.shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": max(1000 - identified, 0),
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get("/resume", self.gateway.handle)
        app.router.add_route("*", "/api/v{version}/{tail:.*}", self._handle_rest)
        app.router.add_route("*", "/api/{tail:.*}", self._handle_rest)
        app.on_shutdown.append(self.gateway.close_all)
        return app

    async def _handle_rest(self, request: web.Request) -> web.Response:
        raw = request.raw_path.split("?", 1)[0]
        version = request.match_info.get("version", "")
        prefix = f"/api/v{version}" if version else "/api"
        path = raw[len(prefix) :] or "/"
        body, files = await _read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            resolved = self._custom.resolve(request.method, path)
            if resolved is None or resolved[2] is None:
                resolved = self._builtin.resolve(request.method, path) or resolved
            template, params, handler = resolved or ("", {}, None)
            req = ApiRequest(
                request.method,
                template,
                path,
                params,
                dict(request.query),
                body,
                files,
                headers,
            )
            status, answer, extra_headers = self._answer(
                req, handler, resolved is not None, version
            )
            self._calls.append(Call(**vars(req), status=status, response=answer))
        self._notifier.notify()
        return _json_response(status, answer, extra_headers)

    def _answer(
        self, req: ApiRequest, handler: Handler | None, known_path: bool, version: str
    ) -> tuple[int, Any, dict[str, str]]:
        if version not in ("9", "10"):
            return 400, {"message": "Invalid API version", "code": 50041}, {}
        if not known_path:
            return 404, {"message": "404: Not Found", "code": 0}, {}
        if handler is None:
            return 405, {"message": "405: Method Not Allowed", "code": 0}, {}
        needs_token = not req.route.startswith(_TOKEN_IN_PATH) and req.route != "/gateway"
        if needs_token and req.headers.get("authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        denial = self._limiter.take_injected(req) or self._limiter.admit(req)
        headers = self._limiter.headers(req)
        if denial is not None:
            return denial.status, denial.body, {**headers, **denial.headers}
        try:
            answer = handler(req)
        except ApiError as e:
            return e.status, e.body, headers
        return (200 if answer is not None else 204), answer, headers


async def _read_body(request: web.Request) -> tuple[Any, tuple[UploadedFile, ...]]:
    """(JSON body or multipart ``payload_json``, the ``files[n]`` parts)."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        files = []
        body: Any = None
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files.append(
                    UploadedFile(name, value.filename, value.content_type, value.file.read())
                )
            elif name == "payload_json":
                body = json.loads(value)
        return body, tuple(files)
    raw = await request.read()
    if not raw:
        return None, ()
    try:
        return json.loads(raw), ()
    except ValueError:
        return raw.decode(errors="replace"), ()


def fake_discord_fixture(name: str = "fake_discord", *, fast: bool = True, **options: Any) -> Any:
    """Build a function-scoped pytest fixture yielding a started FakeDiscord that discord.py
    is pointed at (``Route.BASE``, ``DEFAULT_GATEWAY``). `fast` also makes discord.py's
    reconnect backoff and its 5-second wait before a re-IDENTIFY instant
    (:func:`fast_reconnects`). `options` go to FakeDiscord.

    Usage in a test module: ``fake_discord = fake_discord_fixture()``.
    """

    @pytest.fixture(name=name)
    def _fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
        with FakeDiscord(**options) as fake:
            fake.point_discord_py(monkeypatch)
            if fast:
                fast_reconnects(monkeypatch)
            yield fake

    return _fixture


def fast_reconnects(monkeypatch: pytest.MonkeyPatch, delay: float = 0.01) -> None:
    """Make discord.py reconnect at once: its ExponentialBackoff waits `delay`, and
    ``before_identify_hook`` (5 s before every IDENTIFY but the first) does not wait."""
    import discord
    from discord.backoff import ExponentialBackoff

    async def no_wait(self: discord.Client, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    monkeypatch.setattr(ExponentialBackoff, "delay", lambda self: delay)
    monkeypatch.setattr(discord.Client, "before_identify_hook", no_wait)


__all__ = [
    "DEFAULT_APPLICATION_FLAGS",
    "FakeDiscord",
    "application_object",
    "fake_discord_fixture",
    "fast_reconnects",
]
