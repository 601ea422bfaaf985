"""A local stand-in for Slack's Web API, served over real HTTP on 127.0.0.1.

Point slack_sdk at it with ``AsyncWebClient(base_url=fake.api_url)`` (or ``SLACK_API_URL``). It
keeps a small workspace model (channels, messages, users, views, files), records every request
and can inject failures (429 with Retry-After, ``ok: false`` errors).

The server runs an aiohttp app in a daemon thread with its own event loop, so it serves sync
tests and async tests alike; waiting helpers come in a blocking and an ``_async`` flavour.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from slack_sdk.web import WebClient
from slack_sdk.web.async_client import AsyncWebClient

from tests.background_server import BackgroundServer, Notifier, StandIn

from . import block_kit
from . import payloads as p

#: Pseudo-method names under which non-API requests are recorded.
RESPONSE_URL = "response_url"
FILE_UPLOAD = "file_upload"

BOT_TOKEN = "xoxb-0000-lodestar-test"
APP_TOKEN = "xapp-1-A0LODE-0000-lodestar-test"

#: Params slack_sdk sends as JSON strings in form bodies; recorded decoded.
_JSON_PARAMS = frozenset({"blocks", "attachments", "view", "files", "metadata", "unfurls"})
_TS_START_MICROS = 1_700_000_000_000_000


class ApiError(Exception):
    """Raise from a method handler to answer ``{"ok": false, "error": error, **extra}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass(frozen=True)
class ApiRequest:
    """What a method handler sees: parsed params, the bearer token and lowercased headers."""

    method: str
    params: dict[str, Any]
    token: str | None
    headers: dict[str, str]

    def require(self, name: str, error: str = "invalid_arguments") -> Any:
        """The param `name`, or answer `error` if it is missing or empty."""
        value = self.params.get(name)
        if value in (None, ""):
            raise ApiError(error)
        return value


Handler = Callable[[ApiRequest], Mapping[str, Any]]


@dataclass(frozen=True)
class Call:
    """One recorded request and the answer the fake gave."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    token: str | None
    http_method: str = "POST"
    path: str = ""
    body: bytes = b""
    status: int = 200
    response: Any = None

    @property
    def ok(self) -> bool:
        """True if answered 200 and, for JSON answers, ``ok: true``."""
        if self.status != 200:
            return False
        return not isinstance(self.response, dict) or bool(self.response.get("ok", True))


@dataclass
class UploadedFile:
    """A file going through files.getUploadURLExternal → upload URL → completeUploadExternal."""

    file_id: str
    filename: str
    length: int
    upload_url: str
    data: bytes | None = None
    title: str | None = None
    channel_id: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class _Failure:
    method: str
    status: int
    error: str | None
    retry_after: int | None
    remaining: int | None
    when: Callable[[dict[str, Any]], bool] | None = None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _ts_micros(ts: str) -> int:
    sec, _, frac = str(ts).partition(".")
    return int(sec) * 1_000_000 + int((frac or "0").ljust(6, "0")[:6])


def _decode_json_params(params: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_PARAMS & params.keys():
        value = params[key]
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params


def _check_message(params: Mapping[str, Any]) -> None:
    """Refuse a message Slack would refuse: too long, or blocks past Block Kit's limits."""
    if block_kit.units(str(params.get("text") or "")) > block_kit.MESSAGE_TEXT:
        raise ApiError("msg_too_long")
    refused = block_kit.problems(params.get("blocks") or [], block_kit.MESSAGE_BLOCKS)
    if refused:
        raise ApiError("invalid_blocks", response_metadata={"messages": refused})


def _page(
    items: list[dict[str, Any]],
    params: Mapping[str, Any],
    default_limit: int,
    key: str = "messages",
) -> dict[str, Any]:
    """Cursor pagination in Slack's shape: ``has_more`` + ``response_metadata.next_cursor``."""
    limit = int(params.get("limit") or default_limit)
    cursor = params.get("cursor") or ""
    start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
    page = items[start : start + limit]
    has_more = start + limit < len(items)
    next_cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if has_more else ""
    return {
        key: page,
        "has_more": has_more,
        "response_metadata": {"next_cursor": next_cursor},
    }


class FakeSlackWebAPI(StandIn[str, Call]):
    """Slack Web API stand-in. ``with FakeSlackWebAPI() as fake: ...`` or ``start()``/``stop()``."""

    def __init__(self) -> None:
        self._server = BackgroundServer(self._make_app, "fake-slack-web-api")
        self._lock = threading.RLock()
        self._notifier = Notifier()
        self._ids = itertools.count(1)
        self._last_ts = _TS_START_MICROS
        self._calls: list[Call] = []
        self._failures: list[_Failure] = []
        self._custom: dict[str, Handler] = {}
        self._builtin: dict[str, Handler] = {
            "api.test": lambda r: {"args": r.params},
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.list": self._conversations_list,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.publish": self._views_publish,
            "views.update": self._views_update,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }
        self._reset_state()

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return self.origin + "/"

    @property
    def api_url(self) -> str:
        """What slack_sdk's ``base_url`` takes (and ``SLACK_API_URL``): ``.../api/``."""
        return self.base_url + "api/"

    def async_client(self, token: str = BOT_TOKEN, **kwargs: Any) -> AsyncWebClient:
        """A real slack_sdk AsyncWebClient pointed at this fake."""
        return AsyncWebClient(token=token, base_url=self.api_url, **kwargs)

    def client(self, token: str = BOT_TOKEN, **kwargs: Any) -> WebClient:
        """A real slack_sdk (sync) WebClient pointed at this fake."""
        return WebClient(token=token, base_url=self.api_url, **kwargs)

    def response_url(self, key: str | None = None) -> str:
        """A `response_url` on the fake; what the app POSTs there is recorded as RESPONSE_URL."""
        return f"{self.base_url}response/{key or next(self._ids)}"

    # --- seeding --------------------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        *,
        is_private: bool = False,
        is_member: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        """Seed (or update) a channel as conversations.info returns it."""
        with self._lock:
            info = self._ensure_channel(channel_id)
            if name is not None:
                info["name"] = info["name_normalized"] = name
            info.update(is_private=is_private, is_member=is_member, **extra)
            return info

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        display_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        email: str | None = None,
        tz: str = "Europe/London",
        **extra: Any,
    ) -> dict[str, Any]:
        """Seed a user as users.info returns it."""
        name = name or user_id.lower()
        real_name = real_name if real_name is not None else name.title()
        display_name = display_name if display_name is not None else name
        user = {
            "id": user_id,
            "team_id": p.TEAM_ID,
            "name": name,
            "deleted": deleted,
            "real_name": real_name,
            "tz": tz,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "profile": {
                "real_name": real_name,
                "real_name_normalized": real_name,
                "display_name": display_name,
                "display_name_normalized": display_name,
                "email": email or f"{name}@example.com",
                "image_72": f"https://example.com/avatars/{user_id}_72.png",
                "team": p.TEAM_ID,
            },
            **extra,
        }
        with self._lock:
            self._users[user_id] = user
        return user

    def add_token(self, token: str, team_id: str) -> None:
        """A bot token of another team: auth.test answers with that team for it (every
        other token belongs to ``payloads.TEAM_ID``)."""
        with self._lock:
            self._token_teams[token] = team_id

    def add_message(
        self,
        channel: str,
        ts: str | None = None,
        user: str = p.USER_ID,
        text: str = "",
        thread_ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Seed a message (a thread reply if `thread_ts` names another ts); returns it."""
        with self._lock:
            msg: dict[str, Any] = {
                "type": "message",
                "user": user,
                "text": text,
                "ts": ts or self._next_ts(),
                "team": p.TEAM_ID,
                **extra,
            }
            if thread_ts is not None:
                msg["thread_ts"] = thread_ts
            self._store_message(channel, msg)
            return msg

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """All messages (incl. thread replies) currently in `channel` (an id, or ``#name``),
        oldest first."""
        with self._lock:
            if channel.startswith("#"):
                named = [c for c, i in self._channels.items() if i.get("name") == channel[1:]]
                channel = named[0] if named else channel
            msgs = self._messages.get(channel, {})
            return [msgs[ts] for ts in sorted(msgs, key=_ts_micros)]

    def dm_channel(self, user_id: str) -> str:
        """The DM channel conversations.open returns for `user_id` (``U0ALICE`` → ``D0ALICE``)."""
        return "D" + user_id[1:]

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Views opened/pushed/published/updated, by view id."""
        with self._lock:
            return dict(self._views)

    @property
    def uploads(self) -> list[UploadedFile]:
        """Files started with files.getUploadURLExternal, in order."""
        with self._lock:
            return list(self._files.values())

    # --- customising & failure injection -------------------------------------------------------

    def on(self, method: str, response: Mapping[str, Any] | Handler) -> None:
        """Answer `method` with a fixed body or ``handler(ApiRequest) -> dict``.

        The handler may raise ApiError. Overrides the built-in behaviour of `method`, or adds a
        method the fake does not know.
        """
        self._custom[method] = response if callable(response) else (lambda _r: response)

    def off(self, method: str) -> None:
        """Drop a handler added with :meth:`on` (built-in behaviour comes back)."""
        self._custom.pop(method, None)

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """Fail the next `times` calls to `method` (``"*"``: any method).

        Default: HTTP 429 ``ratelimited`` with ``Retry-After: retry_after``. With `error` only:
        HTTP 200 ``{"ok": false, "error": error}``. Other statuses answer that status.
        """
        if status is None:
            status = 200 if error is not None else 429
        self._add_failure(
            _Failure(method, status, error, retry_after if status == 429 else None, times)
        )

    def fail_for(
        self,
        method: str,
        when: Callable[[dict[str, Any]], bool],
        *,
        error: str = "channel_not_found",
        status: int = 200,
        retry_after: int = 1,
    ) -> Callable[[], None]:
        """Fail every call to `method` whose params satisfy `when` until the returned undo runs."""
        failure = _Failure(
            method, status, error, retry_after if status == 429 else None, None, when
        )
        self._add_failure(failure)

        def undo() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._failures.remove(failure)

        return undo

    # --- inspecting -----------------------------------------------------------------------------

    def _selects(self, method: str, call: Call) -> bool:
        return call.method == method

    def _label(self, call: Call) -> str:
        return f"{call.method}({call.status})"

    def clear_calls(self) -> None:
        """Forget recorded calls only."""
        with self._lock:
            self._calls.clear()

    def reset(self) -> None:
        """Forget calls, failure injections and all seeded/posted state.

        Handlers added with :meth:`on` stay (an attached FakeSocketMode relies on one); remove
        them with :meth:`off`.
        """
        with self._lock:
            self._calls.clear()
            self._failures.clear()
            self._reset_state()

    # --- HTTP plumbing --------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_post("/response/{key}", self._handle_response_url)
        return app

    def _add_failure(self, failure: _Failure) -> None:
        with self._lock:
            self._failures.append(failure)

    def _take_failure(self, method: str, params: dict[str, Any]) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.method not in (method, "*"):
                    continue
                if failure.when is not None and not failure.when(params):
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                return failure
        return None

    @staticmethod
    def _failure_response(failure: _Failure) -> web.Response:
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        error = failure.error or ("ratelimited" if failure.status == 429 else "internal_error")
        return web.json_response(
            {"ok": False, "error": error}, status=failure.status, headers=headers
        )

    def _record(
        self,
        request: web.Request,
        method: str,
        params: dict[str, Any],
        token: str | None,
        body: bytes,
        response: web.Response,
        payload: Any,
    ) -> web.Response:
        call = Call(
            method=method,
            params=params,
            headers={k.lower(): v for k, v in request.headers.items()},
            token=token,
            http_method=request.method,
            path=request.path,
            body=body,
            status=response.status,
            response=payload,
        )
        with self._lock:
            self._calls.append(call)
        self._notifier.notify()
        return response

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        body = b""
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            for key, value in form.items():
                params[key] = value.file.read() if isinstance(value, web.FileField) else value
        else:
            body = await request.read()
            if request.content_type == "application/json" and body:
                params.update(json.loads(body))
            elif body:
                params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        _decode_json_params(params)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else params.pop("token", None)
        if token is None and auth.startswith("Basic "):
            # oauth.v2.access authenticates with the app's client id and secret
            token = "basic:" + base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        api_request = ApiRequest(
            method, params, token, {k.lower(): v for k, v in request.headers.items()}
        )

        failure = self._take_failure(method, params)
        if failure is not None:
            response = self._failure_response(failure)
            return self._record(
                request, method, params, token, body, response, json.loads(response.text or "{}")
            )

        handler = self._custom.get(method) or self._builtin.get(method)
        result: dict[str, Any]
        if handler is None:
            result = {"ok": False, "error": "unknown_method"}
        elif not token:
            result = {"ok": False, "error": "not_authed"}
        else:
            try:
                with self._lock:
                    result = {"ok": True, **handler(api_request)}
            except ApiError as e:
                result = {"ok": False, "error": e.error, **e.extra}
        return self._record(request, method, params, token, body, web.json_response(result), result)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        body = await request.read()
        params = {"file_id": file_id, "length": len(body)}
        failure = self._take_failure(FILE_UPLOAD, params)
        if failure is not None:
            response = self._failure_response(failure)
            return self._record(request, FILE_UPLOAD, params, None, body, response, response.text)
        with self._lock:
            upload = self._files.get(file_id)
            if upload is not None:
                upload.data = body
        if upload is None:
            response = web.Response(status=404, text="file_not_found")
        else:
            response = web.Response(text=f"OK - {len(body)}", content_type="text/plain")
        return self._record(request, FILE_UPLOAD, params, None, body, response, response.text)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        body = await request.read()
        params: dict[str, Any] = json.loads(body) if body else {}
        failure = self._take_failure(RESPONSE_URL, params)
        refused = block_kit.problems(params.get("blocks") or [], block_kit.MESSAGE_BLOCKS)
        if failure is not None:
            response = self._failure_response(failure)
        elif refused:  # what Slack answers a response_url it will not show
            response = web.Response(status=400, text="invalid_blocks", content_type="text/html")
        else:
            response = web.Response(text="ok", content_type="text/html")
        return self._record(request, RESPONSE_URL, params, None, body, response, response.text)

    # --- workspace model ------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self._lock:
            self._channels: dict[str, dict[str, Any]] = {}
            self._messages: dict[str, dict[str, dict[str, Any]]] = {}
            self._users: dict[str, dict[str, Any]] = {}
            self._views: dict[str, dict[str, Any]] = {}
            self._home_views: dict[str, str] = {}
            self._files: dict[str, UploadedFile] = {}
            self._token_teams: dict[str, str] = {}
        self.add_user(p.BOT_USER_ID, name=p.BOT_NAME, real_name="Lodestar", is_bot=True)

    def _next_ts(self) -> str:
        self._last_ts += 100
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _ensure_channel(self, channel_id: str) -> dict[str, Any]:
        info = self._channels.get(channel_id)
        if info is None:
            is_im = channel_id.startswith("D")
            info = {
                "id": channel_id,
                "name": channel_id.lower(),
                "name_normalized": channel_id.lower(),
                "is_channel": channel_id.startswith("C"),
                "is_group": channel_id.startswith("G"),
                "is_im": is_im,
                "is_mpim": False,
                "is_private": not channel_id.startswith("C"),
                "is_archived": False,
                "is_general": False,
                "is_member": True,
                "created": 1_600_000_000,
                "creator": p.USER_ID,
                "context_team_id": p.TEAM_ID,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
            }
            if is_im:
                info["user"] = "U" + channel_id[1:]
                del info["name"], info["name_normalized"]
            self._channels[channel_id] = info
            self._messages.setdefault(channel_id, {})
        return info

    def _resolve_channel(self, channel: str) -> str:
        """Posting to a user id posts to the DM with that user, like Slack does."""
        if channel[:1] in ("U", "W"):
            channel = self.dm_channel(channel)
        elif channel.startswith("#"):  # a name: the channel of that name (made if new)
            name = channel[1:]
            found = [c for c, info in self._channels.items() if info.get("name") == name]
            if found:
                return found[0]
            channel = f"C{next(self._ids):010d}"
            self._ensure_channel(channel).update(name=name, name_normalized=name)
            return channel
        self._ensure_channel(channel)
        return channel

    def _store_message(self, channel: str, msg: dict[str, Any]) -> None:
        self._ensure_channel(channel)
        self._last_ts = max(self._last_ts, _ts_micros(msg["ts"]))
        self._messages[channel][msg["ts"]] = msg
        thread_ts = msg.get("thread_ts")
        parent = self._messages[channel].get(thread_ts) if thread_ts else None
        if parent is not None and thread_ts != msg["ts"]:
            parent["thread_ts"] = thread_ts
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            users = parent.setdefault("reply_users", [])
            if msg.get("user") and msg["user"] not in users:
                users.append(msg["user"])
            parent["reply_users_count"] = len(users)
            parent["latest_reply"] = msg["ts"]

    def _message(self, channel: str, ts: str) -> dict[str, Any]:
        if channel not in self._channels:
            raise ApiError("channel_not_found")
        msg = self._messages[channel].get(ts)
        if msg is None:
            raise ApiError("message_not_found")
        return msg

    @staticmethod
    def _in_range(ts: str, params: Mapping[str, Any]) -> bool:
        inclusive = _truthy(params.get("inclusive", False))
        value = _ts_micros(ts)
        oldest, latest = params.get("oldest"), params.get("latest")
        if oldest not in (None, "") and (
            value < _ts_micros(oldest) or (value == _ts_micros(oldest) and not inclusive)
        ):
            return False
        return not (
            latest not in (None, "")
            and (value > _ts_micros(latest) or (value == _ts_micros(latest) and not inclusive))
        )

    # --- built-in methods (called with self._lock held) -----------------------------------------

    def _auth_test(self, r: ApiRequest) -> dict[str, Any]:
        team = self._token_teams.get(r.token or "", p.TEAM_ID)
        return {
            "url": f"https://{p.TEAM_DOMAIN}.slack.com/",
            "team": p.TEAM_NAME,
            "user": p.BOT_NAME,
            "team_id": team,
            "user_id": p.BOT_USER_ID,
            "bot_id": p.BOT_ID,
            "app_id": p.API_APP_ID,
            "is_enterprise_install": False,
        }

    def _bot_message(self, r: ApiRequest, ts: str) -> dict[str, Any]:
        params = r.params
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            raise ApiError("no_text")
        _check_message(params)
        msg: dict[str, Any] = {
            "type": "message",
            "text": params.get("text") or "",
            "user": p.BOT_USER_ID,
            "bot_id": p.BOT_ID,
            "app_id": p.API_APP_ID,
            "team": p.TEAM_ID,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if params.get(key):
                msg[key] = params[key]
        return msg

    def _chat_post_message(self, r: ApiRequest) -> dict[str, Any]:
        channel = self._resolve_channel(r.require("channel", "channel_not_found"))
        msg = self._bot_message(r, self._next_ts())
        if msg.get("thread_ts") and _truthy(r.params.get("reply_broadcast")):
            msg["subtype"] = "thread_broadcast"
        self._store_message(channel, msg)
        return {"channel": channel, "ts": msg["ts"], "message": msg}

    def _chat_post_ephemeral(self, r: ApiRequest) -> dict[str, Any]:
        self._resolve_channel(r.require("channel", "channel_not_found"))
        r.require("user", "user_not_in_channel")
        self._bot_message(r, "")  # validates text/blocks
        return {"message_ts": self._next_ts()}

    def _chat_update(self, r: ApiRequest) -> dict[str, Any]:
        channel = r.require("channel", "channel_not_found")
        msg = self._message(channel, r.require("ts", "message_not_found"))
        _check_message(r.params)
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in r.params:
                msg[key] = r.params[key]
        msg["edited"] = {"user": p.BOT_USER_ID, "ts": self._next_ts()}
        return {"channel": channel, "ts": msg["ts"], "text": msg.get("text", ""), "message": msg}

    def _chat_delete(self, r: ApiRequest) -> dict[str, Any]:
        channel = r.require("channel", "channel_not_found")
        ts = r.require("ts", "message_not_found")
        self._message(channel, ts)
        del self._messages[channel][ts]
        return {"channel": channel, "ts": ts}

    def _chat_get_permalink(self, r: ApiRequest) -> dict[str, Any]:
        channel = r.require("channel", "channel_not_found")
        ts = r.require("message_ts", "message_not_found")
        link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        thread_ts = self._messages.get(channel, {}).get(ts, {}).get("thread_ts")
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _conversations_open(self, r: ApiRequest) -> dict[str, Any]:
        if r.params.get("channel"):
            channel = r.params["channel"]
        else:
            users = [u for u in str(r.require("users", "users_list_not_supplied")).split(",") if u]
            if len(users) == 1:
                channel = self.dm_channel(users[0])
            else:
                channel = "G" + "".join(u[1:4] for u in sorted(users)).upper()
                self._ensure_channel(channel)["is_mpim"] = True
        existed = channel in self._channels
        info = self._ensure_channel(channel)
        if _truthy(r.params.get("return_im")):
            return {"no_op": existed, "already_open": existed, "channel": info}
        return {"no_op": existed, "already_open": existed, "channel": {"id": channel}}

    def _conversations_history(self, r: ApiRequest) -> dict[str, Any]:
        channel = r.require("channel", "channel_not_found")
        if channel not in self._channels:
            raise ApiError("channel_not_found")
        items = [
            m
            for m in reversed(self.messages(channel))
            if (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
            and self._in_range(m["ts"], r.params)
        ]
        return {**_page(items, r.params, 100), "pin_count": 0}

    def _conversations_replies(self, r: ApiRequest) -> dict[str, Any]:
        channel = r.require("channel", "channel_not_found")
        ts = r.require("ts", "thread_not_found")
        if channel not in self._channels:
            raise ApiError("channel_not_found")
        parent = self._messages[channel].get(ts)
        if parent is None:
            raise ApiError("thread_not_found")
        thread_ts = parent.get("thread_ts", ts)
        replies = [
            m
            for m in self.messages(channel)
            if m.get("thread_ts") == thread_ts
            and m["ts"] != thread_ts
            and self._in_range(m["ts"], r.params)
        ]
        root = self._messages[channel].get(thread_ts, parent)
        return _page([root, *replies], r.params, 1000)

    def _conversations_list(self, r: ApiRequest) -> dict[str, Any]:
        """Channels (never DMs), ids only: a name is no id (conversations.history wants one)."""
        wanted = set(str(r.params.get("types") or "public_channel").split(","))
        listed = [
            info
            for info in self._channels.values()
            if not info["is_im"]
            and ("private_channel" if info["is_private"] else "public_channel") in wanted
            and not (_truthy(r.params.get("exclude_archived", False)) and info["is_archived"])
        ]
        return _page(listed, r.params, 100, key="channels")

    def _conversations_info(self, r: ApiRequest) -> dict[str, Any]:
        channel = r.require("channel", "channel_not_found")
        if channel not in self._channels:
            raise ApiError("channel_not_found")
        return {"channel": self._channels[channel]}

    def _users_info(self, r: ApiRequest) -> dict[str, Any]:
        user = self._users.get(r.require("user", "user_not_found"))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user}

    def _make_view(self, view: Any, view_id: str | None = None, **defaults: Any) -> dict[str, Any]:
        if not isinstance(view, Mapping):
            raise ApiError("invalid_arguments")
        refused = block_kit.view_problems(view)
        if refused:
            raise ApiError("invalid_arguments", response_metadata={"messages": refused})
        view_id = view_id or f"V{next(self._ids):010d}"
        full = {
            "id": view_id,
            "team_id": p.TEAM_ID,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": f"{next(self._ids)}.{view_id}",
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": p.API_APP_ID,
            "app_installed_team_id": p.TEAM_ID,
            "bot_id": p.BOT_ID,
            **defaults,
            **view,
        }
        self._views[view_id] = full
        return full

    def _views_open(self, r: ApiRequest) -> dict[str, Any]:
        r.require("trigger_id")
        return {"view": self._make_view(r.require("view"))}

    def _views_publish(self, r: ApiRequest) -> dict[str, Any]:
        user_id = r.require("user_id")
        view = self._make_view(r.require("view"), self._home_views.get(user_id), type="home")
        self._home_views[user_id] = view["id"]
        return {"view": view}

    def _views_update(self, r: ApiRequest) -> dict[str, Any]:
        view_id = r.params.get("view_id")
        if not view_id and r.params.get("external_id"):
            ids = [
                v["id"]
                for v in self._views.values()
                if v.get("external_id") == r.params["external_id"]
            ]
            view_id = ids[0] if ids else None
        if not view_id or view_id not in self._views:
            raise ApiError("not_found")
        old = self._views[view_id]
        if r.params.get("hash") and r.params["hash"] != old["hash"]:
            raise ApiError("hash_conflict")
        view = self._make_view(
            r.require("view"), view_id, type=old["type"], root_view_id=old["root_view_id"]
        )
        return {"view": view}

    def _reaction_target(self, r: ApiRequest) -> dict[str, Any] | None:
        channel = r.require("channel", "channel_not_found")
        r.require("timestamp", "message_not_found")
        r.require("name", "invalid_name")
        return self._messages.get(channel, {}).get(r.params["timestamp"])

    def _reactions_add(self, r: ApiRequest) -> dict[str, Any]:
        msg = self._reaction_target(r)
        if msg is not None:  # unknown messages are accepted (lenient) but not modelled
            reactions = msg.setdefault("reactions", [])
            entry = next((x for x in reactions if x["name"] == r.params["name"]), None)
            if entry is None:
                entry = {"name": r.params["name"], "users": [], "count": 0}
                reactions.append(entry)
            if p.BOT_USER_ID in entry["users"]:
                raise ApiError("already_reacted")
            entry["users"].append(p.BOT_USER_ID)
            entry["count"] += 1
        return {}

    def _reactions_remove(self, r: ApiRequest) -> dict[str, Any]:
        msg = self._reaction_target(r)
        if msg is not None:
            reactions = msg.get("reactions", [])
            entry = next((x for x in reactions if x["name"] == r.params["name"]), None)
            if entry is None or p.BOT_USER_ID not in entry["users"]:
                raise ApiError("no_reaction")
            entry["users"].remove(p.BOT_USER_ID)
            entry["count"] -= 1
            if not entry["count"]:
                reactions.remove(entry)
        return {}

    def _files_get_upload_url(self, r: ApiRequest) -> dict[str, Any]:
        filename = r.require("filename")
        length = int(r.require("length"))
        file_id = f"F{next(self._ids):010d}"
        url = f"{self.base_url}upload/{file_id}"
        self._files[file_id] = UploadedFile(file_id, filename, length, url)
        return {"upload_url": url, "file_id": file_id}

    def _files_complete_upload(self, r: ApiRequest) -> dict[str, Any]:
        entries = r.require("files")
        if not isinstance(entries, list):
            raise ApiError("invalid_arguments")
        done = []
        for entry in entries:
            upload = self._files.get(entry.get("id", ""))
            if upload is None or upload.data is None:
                raise ApiError("file_not_found")
            upload.title = entry.get("title") or upload.filename
            upload.channel_id = r.params.get("channel_id") or None
            upload.initial_comment = r.params.get("initial_comment") or None
            upload.thread_ts = r.params.get("thread_ts") or None
            upload.completed = True
            done.append(
                {
                    "id": upload.file_id,
                    "name": upload.filename,
                    "title": upload.title,
                    "size": len(upload.data),
                    "user": p.BOT_USER_ID,
                    "permalink": f"https://example.slack.com/files/{p.BOT_USER_ID}/"
                    f"{upload.file_id}/{upload.filename}",
                }
            )
        return {"files": done}


def fake_slack_fixture(name: str = "fake_slack", env_var: str | None = "SLACK_API_URL") -> Any:
    """Build a function-scoped pytest fixture yielding a started FakeSlackWebAPI.

    Usage in a test module: ``fake_slack = fake_slack_fixture()``. Sets `env_var` to its
    ``api_url`` for the test's duration (pass None to leave the environment alone).
    """

    @pytest.fixture(name=name)
    def _fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlackWebAPI]:
        with FakeSlackWebAPI() as fake:
            if env_var:
                monkeypatch.setenv(env_var, fake.api_url)
            yield fake

    return _fixture


__all__ = [
    "APP_TOKEN",
    "BOT_TOKEN",
    "FILE_UPLOAD",
    "RESPONSE_URL",
    "ApiError",
    "ApiRequest",
    "BackgroundServer",
    "Call",
    "FakeSlackWebAPI",
    "Notifier",
    "UploadedFile",
    "fake_slack_fixture",
]
