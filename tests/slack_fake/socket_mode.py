"""A local stand-in for Slack's Socket Mode WebSocket endpoint.

slack_bolt's ``AsyncSocketModeHandler`` (``slack_bolt.adapter.socket_mode.async_handler``) is
the aiohttp one: it wraps ``slack_sdk.socket_mode.aiohttp.SocketModeClient``, which calls
``apps.connections.open`` with the app-level token on the app's Web API client, then connects
to the returned URL. Attached to a :class:`FakeSlackWebAPI`, this fake answers that call with
``ws://127.0.0.1:PORT/link`` and serves the socket: ``hello`` on connect, envelopes pushed by
the test, and recording of the acks the client sends back.

Note: Bolt only acks when its response status is 200; a rejected envelope gets no ack at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from . import payloads as p
from .web_api import ApiError, ApiRequest, BackgroundServer, FakeSlackWebAPI, Notifier


@dataclass(frozen=True)
class Ack:
    """What the client sent back for one envelope (``payload`` is None for a bare ack)."""

    envelope_id: str
    payload: dict[str, Any] | None
    raw: str


class FakeSocketMode:
    """Socket Mode server. ``with FakeSocketMode(fake_web_api) as sm: ...``."""

    def __init__(self, web_api: FakeSlackWebAPI | None = None) -> None:
        self._web_api = web_api
        self._server = BackgroundServer(self._make_app, "fake-slack-socket-mode")
        self._notifier = Notifier()
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, Ack] = {}
        self._push_errors: dict[str, BaseException] = {}
        self._connected: asyncio.Event | None = None
        self.connections_opened = 0
        self.received: list[dict[str, Any]] = []

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeSocketMode:
        self._server.start()
        self._server.submit(self._init_on_loop()).result(5)
        if self._web_api is not None:
            self._web_api.on("apps.connections.open", self._connections_open)
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The WebSocket URL ``apps.connections.open`` hands out."""
        return f"ws://127.0.0.1:{self._server.port}/link"

    @property
    def open_connections(self) -> int:
        return sum(1 for ws in self._sockets if not ws.closed)

    # --- test API -------------------------------------------------------------------------------

    def push(
        self,
        payload: p.SlackRequest | Mapping[str, Any],
        *,
        type: p.EnvelopeType | None = None,
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5.0,
    ) -> str:
        """Send an envelope to the newest connection (waiting up to `timeout` for one).

        `payload` is a :class:`~.payloads.SlackRequest` (its type is used) or a raw payload dict
        with `type` given. Non-blocking; returns the envelope_id for :meth:`wait_for_ack`.
        """
        if isinstance(payload, p.SlackRequest):
            type = type or payload.envelope_type
            data = payload.data
        else:
            data = dict(payload)
        if type is None:
            raise ValueError("type is required for a raw payload")
        if accepts_response_payload is None:
            accepts_response_payload = type == "slash_commands" or (
                type == "interactive"
                and data.get("type") in ("view_submission", "block_suggestion")
            )
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": data,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        self._send(envelope, envelope_id, timeout)
        return envelope_id

    def disconnect(self, reason: str = "refresh_requested", timeout: float = 5.0) -> None:
        """Send Slack's ``disconnect`` message; slack_sdk then reconnects via a new URL."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        self._send(message, f"disconnect-{uuid.uuid4()}", timeout)

    def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until `count` connections were ever opened."""
        if not self._notifier.wait(lambda: self.connections_opened >= count, timeout):
            raise AssertionError(f"no Socket Mode connection #{count} within {timeout}s")

    async def wait_connected_async(self, count: int = 1, timeout: float = 5.0) -> None:
        """:meth:`wait_connected` for async tests."""
        if not await self._notifier.wait_async(lambda: self.connections_opened >= count, timeout):
            raise AssertionError(f"no Socket Mode connection #{count} within {timeout}s")

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        """Block until the client acked `envelope_id`; returns the ack."""
        self._notifier.wait(lambda: self._settled(envelope_id), timeout)
        return self._ack_or_raise(envelope_id, timeout)

    async def wait_for_ack_async(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        """:meth:`wait_for_ack` for async tests."""
        await self._notifier.wait_async(lambda: self._settled(envelope_id), timeout)
        return self._ack_or_raise(envelope_id, timeout)

    @property
    def acks(self) -> dict[str, Ack]:
        """Acks received so far, by envelope_id."""
        return dict(self._acks)

    # --- internals ------------------------------------------------------------------------------

    def _settled(self, envelope_id: str) -> bool:
        return envelope_id in self._acks or envelope_id in self._push_errors

    def _ack_or_raise(self, envelope_id: str, timeout: float) -> Ack:
        if envelope_id in self._push_errors:
            raise AssertionError(f"could not push {envelope_id}") from self._push_errors[
                envelope_id
            ]
        if envelope_id not in self._acks:
            raise AssertionError(
                f"no ack for envelope {envelope_id} within {timeout}s "
                "(Bolt sends no ack when its response status is not 200)"
            )
        return self._acks[envelope_id]

    async def _init_on_loop(self) -> None:
        self._connected = asyncio.Event()

    def _send(self, message: dict[str, Any], key: str, timeout: float) -> None:
        async def send() -> None:
            assert self._connected is not None
            try:
                await asyncio.wait_for(self._connected.wait(), timeout)
                ws = next(ws for ws in reversed(self._sockets) if not ws.closed)
                await ws.send_str(json.dumps(message))
            except Exception as e:
                self._push_errors[key] = e
                self._notifier.notify()

        self._server.submit(send())

    def _connections_open(self, r: ApiRequest) -> dict[str, Any]:
        if not (r.token or "").startswith("xapp-"):
            raise ApiError("not_allowed_token_type")
        return {"url": f"{self.url}?ticket={uuid.uuid4()}&app_id={p.API_APP_ID}"}

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/link", self._handle_ws)
        app.on_shutdown.append(self._close_all)
        return app

    async def _close_all(self, _app: web.Application) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()

    async def _handle_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)  # answers the client's pings with pongs
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": self.open_connections,
                    "debug_info": {
                        "host": "fake-socket-mode",
                        "build_number": 1,
                        "approximate_connection_time": 3600,
                    },
                    "connection_info": {"app_id": p.API_APP_ID},
                }
            )
        )
        self.connections_opened += 1
        assert self._connected is not None
        self._connected.set()
        self._notifier.notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                self.received.append(data)
                if "envelope_id" in data:
                    ack = Ack(data["envelope_id"], data.get("payload"), msg.data)
                    self._acks[ack.envelope_id] = ack
                    self._notifier.notify()
        finally:
            if not any(not s.closed for s in self._sockets if s is not ws):
                self._connected.clear()
        return ws
