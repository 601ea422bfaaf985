"""A local stand-in for Discord's gateway (API v10, ``encoding=json``) on an aiohttp websocket.

It speaks the real protocol to the real discord.py client: HELLO → IDENTIFY → READY and one
GUILD_CREATE per guild of the shard; heartbeats and their ACKs; RESUME with the replay of
every dispatch the client missed, then RESUMED; INVALID_SESSION; RECONNECT. Transport
compression is ``zlib-stream`` (one zlib context per connection, every message flushed with
Z_SYNC_FLUSH) or ``zstd-stream`` when a zstd library is importable (discord.py asks for zstd
only then). Dispatches honour the session's intents the way Discord does: an event whose
intent was not requested is not sent, and without MESSAGE_CONTENT a guild message arrives
with empty content unless it mentions the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import secrets
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from aiohttp import WSMsgType, web

from tests.background_server import Notifier

from . import payloads as p
from .state import World


class Op(IntEnum):
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intent:
    """Gateway intent bits (IDENTIFY's ``intents``)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    GUILD_SCHEDULED_EVENTS = 1 << 16
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25

    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


_MESSAGE_EVENTS = ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE")
_REACTION_EVENTS = (
    "MESSAGE_REACTION_ADD",
    "MESSAGE_REACTION_REMOVE",
    "MESSAGE_REACTION_REMOVE_ALL",
    "MESSAGE_REACTION_REMOVE_EMOJI",
)
#: event → (intent needed in a guild, intent needed in a DM); events not listed need none.
_INTENT_OF: dict[str, tuple[int, int]] = {
    **{e: (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES) for e in _MESSAGE_EVENTS},
    "MESSAGE_DELETE_BULK": (Intent.GUILD_MESSAGES, Intent.GUILD_MESSAGES),
    **{
        e: (Intent.GUILD_MESSAGE_REACTIONS, Intent.DIRECT_MESSAGE_REACTIONS)
        for e in _REACTION_EVENTS
    },
    "TYPING_START": (Intent.GUILD_MESSAGE_TYPING, Intent.DIRECT_MESSAGE_TYPING),
    "MESSAGE_POLL_VOTE_ADD": (Intent.GUILD_MESSAGE_POLLS, Intent.DIRECT_MESSAGE_POLLS),
    "MESSAGE_POLL_VOTE_REMOVE": (Intent.GUILD_MESSAGE_POLLS, Intent.DIRECT_MESSAGE_POLLS),
    "PRESENCE_UPDATE": (Intent.GUILD_PRESENCES, Intent.GUILD_PRESENCES),
    **{
        e: (Intent.GUILD_MEMBERS, Intent.GUILD_MEMBERS)
        for e in ("GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE")
    },
    **{
        e: (Intent.GUILDS, Intent.GUILDS)
        for e in (
            "GUILD_CREATE",
            "GUILD_UPDATE",
            "GUILD_DELETE",
            "GUILD_ROLE_CREATE",
            "GUILD_ROLE_UPDATE",
            "GUILD_ROLE_DELETE",
            "CHANNEL_CREATE",
            "CHANNEL_UPDATE",
            "CHANNEL_DELETE",
            "THREAD_CREATE",
            "THREAD_UPDATE",
            "THREAD_DELETE",
        )
    },
    **{
        e: (Intent.GUILD_MODERATION, Intent.GUILD_MODERATION)
        for e in ("GUILD_BAN_ADD", "GUILD_BAN_REMOVE", "GUILD_AUDIT_LOG_ENTRY_CREATE")
    },
}
_CONTENT_FIELDS = {"content": "", "embeds": [], "attachments": [], "components": []}

#: Close codes after which a session cannot be resumed.
_SESSION_ENDING_CODES = frozenset({1000, 1001, 4007, 4009})


def needed_intent(event: str, data: Mapping[str, Any]) -> int:
    """The intent a session must have asked for to receive `event` (0: none needed)."""
    guild_intent, dm_intent = _INTENT_OF.get(event, (0, 0))
    return guild_intent if data.get("guild_id") else dm_intent


@dataclass(frozen=True)
class ReceivedOp:
    """One payload the client sent (`shard` is None before IDENTIFY/RESUME on that socket)."""

    connection_id: int
    shard: int | None
    op: int
    d: Any
    at: float


@dataclass(frozen=True)
class Dispatch:
    """One dispatch the fake sequenced. `live`: written to an open socket at once (otherwise
    kept for the RESUME replay)."""

    shard: int
    seq: int
    event: str
    data: dict[str, Any]
    live: bool


@dataclass
class Session:
    """A gateway session: created by IDENTIFY, continued by RESUME."""

    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    identify: dict[str, Any]
    seq: int = 0
    buffer: list[Dispatch] = field(default_factory=list)
    connection: Connection | None = None
    resumable: bool = True
    resumes: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Connection:
    """One websocket. ``compress`` is what the client asked for in the URL (or None)."""

    def __init__(self, connection_id: int, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.id = connection_id
        self.path = request.path
        self.query = dict(request.query)
        self.compress: str | None = self.query.get("compress")
        self.ws = ws
        self.session: Session | None = None
        self.outbox: deque[dict[str, Any] | _Close] = deque()
        self.wake = asyncio.Event()
        self.opened_at = time.monotonic()
        self.closed_at: float | None = None
        self.close_code: int | None = None
        self.frames_sent = 0
        self.bytes_sent = 0
        self._encode = _encoder(self.compress)

    @property
    def shard(self) -> int | None:
        return None if self.session is None else self.session.shard_id

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def supported(self) -> bool:
        return self._encode is not None

    def encode(self, message: Mapping[str, Any]) -> str | bytes:
        """The wire form of one message (advances the compression stream)."""
        assert self._encode is not None
        return self._encode(json.dumps(message, separators=(",", ":"), ensure_ascii=False))

    async def write(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)
        self.frames_sent += 1
        self.bytes_sent += len(data)

    def __repr__(self) -> str:
        return (
            f"<Connection {self.id} shard={self.shard} compress={self.compress} open={self.open}>"
        )


def _encoder(compress: str | None) -> Callable[[str], str | bytes] | None:
    """How one message goes on the wire for the asked-for transport compression."""
    if not compress:
        return lambda text: text
    if compress == "zlib-stream":
        context = zlib.compressobj()

        def zlib_frame(text: str) -> bytes:
            raw = text.encode()
            return context.compress(raw) + context.flush(zlib.Z_SYNC_FLUSH)

        return zlib_frame
    if compress == "zstd-stream":
        return _zstd_encoder()
    return None


def _zstd_encoder() -> Callable[[str], bytes] | None:
    """Mirrors discord.utils: ``zstandard`` first, then the standard library's (3.14+)."""
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        stream = zstandard.ZstdCompressor().compressobj()
        flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        return lambda text: stream.compress(text.encode()) + stream.flush(flush_block)
    try:
        from compression.zstd import ZstdCompressor  # type: ignore[import-not-found]
    except ImportError:
        return None
    compressor = ZstdCompressor()
    return lambda text: compressor.compress(text.encode(), mode=ZstdCompressor.FLUSH_BLOCK)


class Gateway:
    """Sessions, sockets and dispatch. All mutable state is guarded by the fake's `lock`."""

    def __init__(
        self,
        world: World,
        lock: threading.RLock,
        notifier: Notifier,
        token: str,
        base_ws_url: Callable[[], str],
        loop: Callable[[], asyncio.AbstractEventLoop],
    ) -> None:
        self.world = world
        self._lock = lock
        self._notifier = notifier
        self._token = token
        self._base_ws_url = base_ws_url
        self._loop = loop
        self._ids = iter(range(1, 1 << 62))
        #: Seconds between heartbeats, as HELLO announces it (Discord: 41.25).
        self.heartbeat_interval = 41.25
        #: Answer heartbeats with ACK (False plays a zombied connection).
        self.ack_heartbeats = True
        #: Intents the application is not approved for; asking for one closes with 4014.
        self.disallowed_intents = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.connections: list[Connection] = []
            self.sessions: dict[str, Session] = {}
            self.current: dict[int, Session] = {}
            self.received: list[ReceivedOp] = []
            self.dispatched: list[Dispatch] = []
            self.readies: list[Session] = []

    # --- sending ------------------------------------------------------------------------------

    def _enqueue(self, connection: Connection, item: dict[str, Any] | _Close) -> None:
        connection.outbox.append(item)
        loop = self._loop()
        if _on_loop(loop):
            connection.wake.set()
        else:
            loop.call_soon_threadsafe(connection.wake.set)

    def _sequence(
        self, session: Session, event: str, data: dict[str, Any], *, keep: bool = True
    ) -> Dispatch:
        live = session.connection is not None and session.connection.open
        item = Dispatch(session.shard_id, session.next_seq(), event, data, live)
        if keep:
            session.buffer.append(item)
        if live:
            assert session.connection is not None
            self._enqueue(
                session.connection, {"op": Op.DISPATCH, "t": event, "s": item.seq, "d": data}
            )
        self.dispatched.append(item)
        return item

    def _deliverable(
        self, session: Session, event: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        needed = needed_intent(event, data)
        if needed and not session.intents & needed:
            return None
        if (
            event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            and data.get("guild_id")
            and not session.intents & Intent.MESSAGE_CONTENT
        ):
            bot_id = self.world.bot["id"]
            author = (data.get("author") or {}).get("id")
            mentioned = any(str(m.get("id")) == bot_id for m in data.get("mentions") or ())
            if author != bot_id and not mentioned:
                data = {
                    **data,
                    **{k: copy.copy(v) for k, v in _CONTENT_FIELDS.items() if k in data},
                }
        return data

    def targets(self, data: Mapping[str, Any], shard: int | str | None) -> list[Session]:
        """The sessions an event goes to: `shard` (an id or ``"all"``), else the shard of the
        event's guild, else shard 0 (where Discord sends DMs)."""
        sessions = sorted(self.current.values(), key=lambda s: s.shard_id)
        if shard == "all":
            return sessions
        if isinstance(shard, int):
            return [s for s in sessions if s.shard_id == shard]
        guild_id = data.get("guild_id")
        return [
            s
            for s in sessions
            if s.shard_id == (p.shard_of(guild_id, s.shard_count) if guild_id else 0)
        ]

    def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        shard: int | str | None = None,
        *,
        ignore_intents: bool = False,
    ) -> list[Dispatch]:
        """Sequence `event` on its sessions (see :meth:`targets`); returns what was sequenced,
        [] if no session's intents let it through. Wakes no waiter: callers may hold the lock,
        which a waiter's predicate may need, so they notify once they released it."""
        with self._lock:
            sent = []
            for session in self.targets(data, shard):
                payload = data if ignore_intents else self._deliverable(session, event, data)
                if payload is not None:
                    sent.append(self._sequence(session, event, payload))
        return sent

    # --- test controls ------------------------------------------------------------------------

    def _live(self, shard: int | None) -> list[Connection]:
        return [
            s.connection
            for s in self.current.values()
            if s.connection is not None
            and s.connection.open
            and (shard is None or s.shard_id == shard)
        ]

    def drop(self, shard: int | None, code: int, reason: str) -> int:
        """Close live sockets (after what is already queued on them); returns how many."""
        with self._lock:
            connections = self._live(shard)
            for connection in connections:
                if code in _SESSION_ENDING_CODES and connection.session is not None:
                    connection.session.resumable = False
                self._enqueue(connection, _Close(code, reason))
        return len(connections)

    def send_op(self, shard: int | None, op: Op, d: Any = None) -> int:
        """Send a bare opcode (RECONNECT, HEARTBEAT, INVALID_SESSION…) to live sockets."""
        with self._lock:
            connections = self._live(shard)
            for connection in connections:
                if op == Op.INVALID_SESSION and not d and connection.session is not None:
                    connection.session.resumable = False
                self._enqueue(connection, {"op": op, "d": d, "s": None, "t": None})
        return len(connections)

    # --- the websocket ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        with self._lock:
            connection = Connection(next(self._ids), request, ws)
            self.connections.append(connection)
        writer = asyncio.create_task(self._writer(connection))
        try:
            if request.query.get("encoding", "json") != "json":
                self._enqueue(connection, _Close(4002, "the fake speaks encoding=json only"))
            elif request.query.get("v", "10") != "10":
                self._enqueue(connection, _Close(4012, "the fake speaks API v10 only"))
            elif not connection.supported:
                self._enqueue(
                    connection, _Close(4002, f"unsupported compress={connection.compress}")
                )
            else:
                hello = {"heartbeat_interval": int(self.heartbeat_interval * 1000)}
                hello["_trace"] = ['["fake-gateway",{"micros":0}]']
                self._enqueue(connection, {"op": Op.HELLO, "d": hello, "s": None, "t": None})
            self._notifier.notify()
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await self._received(connection, json.loads(msg.data))
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            with self._lock:
                connection.closed_at = time.monotonic()
                connection.close_code = connection.close_code or ws.close_code
                session = connection.session
                if session is not None and session.connection is connection:
                    session.connection = None
            self._notifier.notify()
        return ws

    async def _writer(self, connection: Connection) -> None:
        while True:
            await connection.wake.wait()
            connection.wake.clear()
            while True:
                # Encoded under the lock: the payload may be a live dict of the world model.
                with self._lock:
                    item = connection.outbox.popleft() if connection.outbox else None
                    data = (
                        item
                        if item is None or isinstance(item, _Close)
                        else connection.encode(item)
                    )
                if item is None:
                    break
                if isinstance(data, _Close):
                    connection.close_code = data.code
                    await connection.ws.close(code=data.code, message=data.reason.encode())
                    return
                try:
                    await connection.write(data)
                except (ConnectionResetError, RuntimeError):
                    return

    async def _received(self, connection: Connection, message: Mapping[str, Any]) -> None:
        op, d = message.get("op"), message.get("d")
        with self._lock:
            self.received.append(
                ReceivedOp(connection.id, connection.shard, op, d, time.monotonic())
            )
            if op == Op.HEARTBEAT:
                if self.ack_heartbeats:
                    self._enqueue(
                        connection, {"op": Op.HEARTBEAT_ACK, "d": None, "s": None, "t": None}
                    )
            elif op == Op.IDENTIFY:
                self._identify(connection, d or {})
            elif op == Op.RESUME:
                self._resume(connection, d or {})
            elif op == Op.REQUEST_GUILD_MEMBERS:
                self._members_chunk(connection, d or {})
            elif op not in (Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE):
                self._enqueue(connection, _Close(4001, f"unknown opcode {op}"))
        self._notifier.notify()

    def _identify(self, connection: Connection, d: Mapping[str, Any]) -> None:
        if connection.session is not None:
            self._enqueue(connection, _Close(4005, "already authenticated"))
            return
        if d.get("token") != self._token:
            self._enqueue(connection, _Close(4004, "authentication failed"))
            return
        shard_id, shard_count = d.get("shard") or (0, 1)
        if not 0 <= shard_id < shard_count:
            self._enqueue(connection, _Close(4010, "invalid shard"))
            return
        intents = d.get("intents")
        if intents is None:
            self._enqueue(connection, _Close(4013, "invalid intents"))
            return
        if intents & self.disallowed_intents:
            self._enqueue(connection, _Close(4014, "disallowed intent(s)"))
            return
        session = Session(secrets.token_hex(16), shard_id, shard_count, intents, dict(d))
        session.connection, connection.session = connection, session
        old = self.current.get(shard_id)
        if old is not None:
            old.resumable = False
        self.sessions[session.session_id] = session
        self.current[shard_id] = session
        guilds = [
            g for g in self.world.guilds.values() if p.shard_of(g["id"], shard_count) == shard_id
        ]
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.world.bot,
            "user_settings": {},
            "session_type": "normal",
            "session_id": session.session_id,
            "resume_gateway_url": f"{self._base_ws_url()}/resume",
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "auth": {},
            "application": {
                "id": str(self.world.application["id"]),
                "flags": self.world.application.get("flags", 0),
            },
            "_trace": ['["fake-gateway",{"micros":0}]'],
        }
        if "shard" in d:
            ready["shard"] = [shard_id, shard_count]
        self._sequence(session, "READY", ready, keep=False)
        for guild in guilds:
            self._sequence(session, "GUILD_CREATE", guild)
        self.readies.append(session)

    def _resume(self, connection: Connection, d: Mapping[str, Any]) -> None:
        session = self.sessions.get(str(d.get("session_id")))
        if (
            session is None
            or not session.resumable
            or d.get("token") != self._token
            or self.current.get(session.shard_id) is not session
        ):
            self._enqueue(connection, {"op": Op.INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        client_seq = int(d.get("seq") or 0)
        session.connection, connection.session = connection, session
        for item in session.buffer:
            if item.seq > client_seq:
                frame = {"op": Op.DISPATCH, "t": item.event, "s": item.seq, "d": item.data}
                self._enqueue(connection, frame)
        session.resumes += 1
        self._sequence(
            session, "RESUMED", {"_trace": ['["fake-gateway",{"micros":0}]']}, keep=False
        )

    def _members_chunk(self, connection: Connection, d: Mapping[str, Any]) -> None:
        """Answer REQUEST_GUILD_MEMBERS with the members the fake knows, in one chunk."""
        session = connection.session
        if session is None:
            return
        guild_id = str(d.get("guild_id"))
        members = list(self.world.members.get(guild_id, {}).values())
        wanted_ids = {str(u) for u in d.get("user_ids") or ()}
        query = str(d.get("query") or "").lower()
        if wanted_ids:
            members = [m for m in members if m["user"]["id"] in wanted_ids]
        elif query:
            members = [m for m in members if m["user"]["username"].lower().startswith(query)]
        limit = int(d.get("limit") or 0)
        chunk: dict[str, Any] = {
            "guild_id": guild_id,
            "members": members[:limit] if limit else members,
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        self._sequence(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def close_all(self, _app: web.Application | None = None) -> None:
        with self._lock:
            sockets = [c.ws for c in self.connections if c.open]
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"fake stopping")


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
