"""Builders for request bodies exactly as Slack sends them to an app.

Every builder returns a :class:`SlackRequest`: the wire body and content type for HTTP mode,
plus the decoded payload and envelope type for Socket Mode (``FakeSocketMode.push(req)``).

The workspace identity below is shared with :class:`~.web_api.FakeSlackWebAPI`, so that e.g.
``authorizations[0].user_id`` in an event is the bot user the fake's ``auth.test`` reports.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from .signing import retry_headers, signed_headers

TEAM_ID = "T0LODE"
TEAM_DOMAIN = "lodestar-test"
TEAM_NAME = "Lodestar Test"
API_APP_ID = "A0LODE"
BOT_USER_ID = "U0LODEBOT"
BOT_ID = "B0LODEBOT"
BOT_NAME = "lodestar"
VERIFICATION_TOKEN = "verification-token"
USER_ID = "U0ALICE"
USER_NAME = "alice"
CHANNEL_ID = "C0GENERAL"
CHANNEL_NAME = "general"
#: Default `response_url`: loopback port 9 refuses connections, so a test that forgot to pass
#: ``fake.response_url()`` fails fast instead of reaching out to the internet.
UNSET_RESPONSE_URL = "http://127.0.0.1:9/commands/T0LODE/unset"

EnvelopeType = Literal["slash_commands", "events_api", "interactive"]

_counter = itertools.count(1)


@dataclass(frozen=True)
class SlackRequest:
    """One request from Slack: `body` for HTTP mode, `data` + `envelope_type` for Socket Mode."""

    body: str
    content_type: str
    data: dict[str, Any]
    envelope_type: EnvelopeType

    def headers(
        self,
        secret: str,
        *,
        timestamp: int | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> dict[str, str]:
        """Content-Type plus signature headers; `retry_num` adds Slack's re-delivery headers."""
        headers = {"Content-Type": self.content_type}
        headers.update(signed_headers(self.body, secret, timestamp))
        if retry_num is not None:
            headers.update(retry_headers(retry_num, retry_reason))
        return headers


def make_ts(offset_seconds: float = 0.0) -> str:
    """A unique, increasing Slack timestamp string near now, e.g. ``"1700000000.000100"``."""
    micros = int((time.time() + offset_seconds) * 1_000_000) + next(_counter)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def make_trigger_id() -> str:
    """A trigger_id shaped like Slack's."""
    return f"{next(_counter)}.{int(time.time())}.{uuid.uuid4().hex}"


def _json_request(data: dict[str, Any]) -> SlackRequest:
    return SlackRequest(json.dumps(data), "application/json", data, "events_api")


def _interactive(payload: dict[str, Any]) -> SlackRequest:
    body = urlencode({"payload": json.dumps(payload)})
    return SlackRequest(body, "application/x-www-form-urlencoded", payload, "interactive")


def _team(team_id: str = TEAM_ID) -> dict[str, str]:
    return {"id": team_id, "domain": TEAM_DOMAIN if team_id == TEAM_ID else team_id.lower()}


def _user(user_id: str, user_name: str, team_id: str = TEAM_ID) -> dict[str, str]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


# --- slash commands ---------------------------------------------------------------------------


def slash_command(
    command: str = "/lodestar",
    text: str = "",
    *,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    channel_id: str = CHANNEL_ID,
    channel_name: str = CHANNEL_NAME,
    response_url: str = UNSET_RESPONSE_URL,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = API_APP_ID,
) -> SlackRequest:
    """A slash command invocation (form-encoded). Pass ``response_url=fake.response_url()``."""
    data = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or make_trigger_id(),
    }
    body = urlencode(data)
    return SlackRequest(body, "application/x-www-form-urlencoded", data, "slash_commands")


# --- Events API -------------------------------------------------------------------------------


def url_verification(challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gm") -> SlackRequest:
    """The handshake Slack sends when the Request URL is saved; the app must echo `challenge`."""
    return _json_request(
        {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    )


def event_callback(
    event: Mapping[str, Any],
    *,
    event_id: str | None = None,
    event_time: int | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    authorized_user_id: str = BOT_USER_ID,
) -> SlackRequest:
    """Wrap an `event` in the Events API ``event_callback`` envelope."""
    event = dict(event)
    event.setdefault("event_ts", make_ts())
    data = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": event_time if event_time is not None else int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": authorized_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }
    return _json_request(data)


def _reaction(
    kind: str, reaction: str, user: str, channel: str, ts: str, item_user: str, **envelope: Any
) -> SlackRequest:
    event = {
        "type": kind,
        "user": user,
        "reaction": reaction,
        "item_user": item_user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": make_ts(),
    }
    return event_callback(event, **envelope)


def reaction_added(
    reaction: str = "eyes",
    *,
    user: str = USER_ID,
    channel: str = CHANNEL_ID,
    ts: str,
    item_user: str = USER_ID,
    **envelope: Any,
) -> SlackRequest:
    """`user` added `:reaction:` to the message `ts` in `channel` written by `item_user`."""
    return _reaction("reaction_added", reaction, user, channel, ts, item_user, **envelope)


def reaction_removed(
    reaction: str = "eyes",
    *,
    user: str = USER_ID,
    channel: str = CHANNEL_ID,
    ts: str,
    item_user: str = USER_ID,
    **envelope: Any,
) -> SlackRequest:
    """`user` removed `:reaction:` from the message `ts` in `channel`."""
    return _reaction("reaction_removed", reaction, user, channel, ts, item_user, **envelope)


def app_home_opened(
    *,
    user: str = USER_ID,
    channel: str = "D0ALICE",
    tab: str = "home",
    view: Mapping[str, Any] | None = None,
    **envelope: Any,
) -> SlackRequest:
    """The user opened the app's Home (or Messages) tab; `view` is absent until first publish."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": make_ts(),
    }
    if view is not None:
        event["view"] = dict(view)
    return event_callback(event, **envelope)


def message(
    text: str,
    *,
    user: str = USER_ID,
    channel: str = CHANNEL_ID,
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    subtype: str | None = None,
    bot_id: str | None = None,
    **envelope: Any,
) -> SlackRequest:
    """A ``message`` event (a human message unless `subtype`/`bot_id` say otherwise)."""
    ts = ts or make_ts()
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type,
        "team": TEAM_ID,
    }
    if subtype is None and bot_id is None:
        event["client_msg_id"] = str(uuid.uuid4())
    if subtype is not None:
        event["subtype"] = subtype
    if bot_id is not None:
        event["bot_id"] = bot_id
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event_callback(event, **envelope)


def app_mention(
    text: str,
    *,
    user: str = USER_ID,
    channel: str = CHANNEL_ID,
    ts: str | None = None,
    thread_ts: str | None = None,
    **envelope: Any,
) -> SlackRequest:
    """An ``app_mention`` event; `text` should contain ``<@U0LODEBOT>``."""
    ts = ts or make_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": TEAM_ID,
        "client_msg_id": str(uuid.uuid4()),
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event_callback(event, **envelope)


# --- interactivity ----------------------------------------------------------------------------


def message_action(
    callback_id: str,
    *,
    message_ts: str,
    message_text: str = "",
    message_user: str = USER_ID,
    channel_id: str = CHANNEL_ID,
    channel_name: str = CHANNEL_NAME,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    thread_ts: str | None = None,
    response_url: str = UNSET_RESPONSE_URL,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    with_trigger: bool = True,
) -> SlackRequest:
    """A message shortcut (the "⋯ More actions" menu on a message); ``with_trigger``
    False leaves ``trigger_id`` out, as some proxies and old clients do."""
    msg: dict[str, Any] = {
        "type": "message",
        "user": message_user,
        "ts": message_ts,
        "text": message_text,
        "team": TEAM_ID,
    }
    if thread_ts is not None:
        msg["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": make_ts(),
        "team": _team(team_id),
        "user": _user(user_id, user_name, team_id),
        "channel": {"id": channel_id, "name": channel_name},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or make_trigger_id(),
        "response_url": response_url,
        "message_ts": message_ts,
        "message": msg,
    }
    if not with_trigger:
        del payload["trigger_id"]
    return _interactive(payload)


def global_shortcut(
    callback_id: str, *, user_id: str = USER_ID, user_name: str = USER_NAME
) -> SlackRequest:
    """A global shortcut (lightning-bolt menu); it has no channel and no response_url."""
    return _interactive(
        {
            "type": "shortcut",
            "token": VERIFICATION_TOKEN,
            "action_ts": make_ts(),
            "team": _team(),
            "user": _user(user_id, user_name),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": make_trigger_id(),
        }
    )


def block_actions(
    action_id: str,
    value: str | None = None,
    *,
    block_id: str = "actions",
    action_type: str = "button",
    message_ts: str | None = None,
    message_text: str = "",
    message_blocks: list[dict[str, Any]] | None = None,
    channel_id: str = CHANNEL_ID,
    channel_name: str = CHANNEL_NAME,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    response_url: str = UNSET_RESPONSE_URL,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    home_tab: bool = False,
) -> SlackRequest:
    """A click on an interactive element in a message posted by the bot (or, with
    `home_tab`, in the app's Home tab: no channel, no message, no response_url)."""
    message_ts = message_ts or make_ts(-60)
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": make_ts(),
    }
    if value is not None:
        action["value"] = value
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or make_trigger_id(),
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "message": {
            "type": "message",
            "bot_id": BOT_ID,
            "user": BOT_USER_ID,
            "ts": message_ts,
            "text": message_text,
            "blocks": message_blocks or [],
            "team": team_id,
        },
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if home_tab:
        view_id = f"V{next(_counter):09d}"
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = {"id": view_id, "type": "home", "team_id": team_id, "blocks": []}
        for key in ("channel", "message", "response_url"):
            del payload[key]
    return _interactive(payload)


def text_inputs(values: Mapping[str, Mapping[str, str | None]]) -> dict[str, Any]:
    """``{block_id: {action_id: text}}`` → modal ``state.values`` of plain_text_input elements."""
    return {
        block_id: {
            action_id: {"type": "plain_text_input", "value": text}
            for action_id, text in actions.items()
        }
        for block_id, actions in values.items()
    }


def view_submission(
    callback_id: str,
    values: Mapping[str, Any] | None = None,
    *,
    private_metadata: str = "",
    view_id: str | None = None,
    external_id: str = "",
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    blocks: list[dict[str, Any]] | None = None,
    response_urls: list[dict[str, Any]] | None = None,
    team_id: str = TEAM_ID,
) -> SlackRequest:
    """The user pressed Submit on a modal; `values` is ``state.values`` (see `text_inputs`)."""
    view_id = view_id or f"V{next(_counter):09d}"
    return _interactive(
        {
            "type": "view_submission",
            "team": _team(team_id),
            "user": _user(user_id, user_name, team_id),
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": make_trigger_id(),
            "view": {
                "id": view_id,
                "team_id": team_id,
                "type": "modal",
                "blocks": blocks or [],
                "private_metadata": private_metadata,
                "callback_id": callback_id,
                "state": {"values": dict(values or {})},
                "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
                "title": {"type": "plain_text", "text": "Lodestar", "emoji": True},
                "clear_on_close": False,
                "notify_on_close": False,
                "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
                "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
                "previous_view_id": None,
                "root_view_id": view_id,
                "app_id": API_APP_ID,
                "external_id": external_id,
                "app_installed_team_id": team_id,
                "bot_id": BOT_ID,
            },
            "response_urls": response_urls or [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
    )
