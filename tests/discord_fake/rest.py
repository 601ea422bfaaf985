"""The REST routes discord.py 2.7 calls, answered from the fake's :class:`~.state.World`.

Every handler runs with the fake's lock held, takes the parsed :class:`~.routes.ApiRequest`
and returns the JSON answer (None answers ``204 No Content``) or raises
:class:`~.routes.ApiError` with Discord's error code. Changes a bot makes are echoed on the
gateway the way Discord echoes them (MESSAGE_CREATE for its own messages, …) through `emit`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any

from . import payloads as p
from . import validation
from .routes import ApiError, ApiRequest, RouteTable
from .state import (
    UNKNOWN_COMMAND,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    InteractionRecord,
    World,
    emoji_key,
    fail,
)

Emit = Callable[[str, dict[str, Any]], None]

CANNOT_DM = (403, 50007, "Cannot send messages to this user")
CANNOT_EDIT_OTHERS = (403, 50005, "Cannot edit a message authored by another user")
ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")


class Callback(IntEnum):
    """Interaction callback types (``type`` of ``POST /interactions/{id}/{token}/callback``)."""

    PONG = 1
    MESSAGE = 4
    DEFERRED_MESSAGE = 5
    DEFERRED_UPDATE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE = 8
    MODAL = 9


_T, _C = p.InteractionType, Callback
#: Which callbacks may answer which interaction type.
_CALLBACKS_FOR = {
    _T.PING: {_C.PONG},
    _T.APPLICATION_COMMAND: {_C.MESSAGE, _C.DEFERRED_MESSAGE, _C.MODAL},
    _T.MESSAGE_COMPONENT: {
        _C.MESSAGE,
        _C.DEFERRED_MESSAGE,
        _C.DEFERRED_UPDATE,
        _C.UPDATE_MESSAGE,
        _C.MODAL,
    },
    _T.APPLICATION_COMMAND_AUTOCOMPLETE: {_C.AUTOCOMPLETE},
    _T.MODAL_SUBMIT: {_C.MESSAGE, _C.DEFERRED_MESSAGE, _C.DEFERRED_UPDATE, _C.UPDATE_MESSAGE},
}


def _truthy(value: str | None) -> bool:
    return str(value).lower() in ("1", "true")


def _invalid(path: str, code: str, message: str) -> ApiError:
    errors = validation.FormErrors()
    errors.add(path.split("."), code, message)
    return ApiError(400, validation.INVALID_FORM_BODY, "Invalid Form Body", errors.errors)


class RestApi:
    """The built-in routes. `gateway_bot` answers ``GET /gateway/bot``."""

    def __init__(
        self,
        world: World,
        emit: Emit,
        gateway_bot: Callable[[], dict[str, Any]],
        content_allowed: Callable[[], bool] = lambda: True,
    ) -> None:
        self.world = world
        self._emit = emit
        self._gateway_bot = gateway_bot
        self._content_allowed = content_allowed

    def install(self, table: RouteTable) -> None:
        w = self.world
        app = "/applications/{application_id}"
        msg = "/channels/{channel_id}/messages/{message_id}"
        hook = "/webhooks/{webhook_id}/{webhook_token}"
        routes: list[tuple[str, str, Callable[[ApiRequest], Any]]] = [
            ("GET", "/gateway", lambda r: {"url": self._gateway_bot()["url"]}),
            ("GET", "/gateway/bot", lambda r: self._gateway_bot()),
            ("GET", "/users/@me", lambda r: w.bot),
            ("GET", "/users/{user_id}", lambda r: w.user(r.params["user_id"])),
            ("GET", "/users/@me/guilds", self._my_guilds),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/oauth2/applications/@me", lambda r: w.application),
            ("GET", "/applications/@me", lambda r: w.application),
            ("GET", f"{app}/commands", self._list_commands),
            ("PUT", f"{app}/commands", self._overwrite_commands),
            ("POST", f"{app}/commands", self._upsert_command),
            ("GET", f"{app}/commands/{{command_id}}", self._get_command),
            ("PATCH", f"{app}/commands/{{command_id}}", self._edit_command),
            ("DELETE", f"{app}/commands/{{command_id}}", self._delete_command),
            ("GET", f"{app}/guilds/{{guild_id}}/commands", self._list_commands),
            ("PUT", f"{app}/guilds/{{guild_id}}/commands", self._overwrite_commands),
            ("POST", f"{app}/guilds/{{guild_id}}/commands", self._upsert_command),
            ("GET", f"{app}/guilds/{{guild_id}}/commands/{{command_id}}", self._get_command),
            ("PATCH", f"{app}/guilds/{{guild_id}}/commands/{{command_id}}", self._edit_command),
            ("DELETE", f"{app}/guilds/{{guild_id}}/commands/{{command_id}}", self._delete_command),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/channels", lambda r: self._guild_part(r, "channels")),
            ("GET", "/guilds/{guild_id}/roles", lambda r: self._guild_part(r, "roles")),
            (
                "GET",
                "/guilds/{guild_id}/members/{user_id}",
                lambda r: w.member(r.params["guild_id"], r.params["user_id"]),
            ),
            ("GET", "/channels/{channel_id}", lambda r: w.channel(r.params["channel_id"])),
            ("POST", "/channels/{channel_id}/typing", self._typing),
            ("GET", "/channels/{channel_id}/messages", self._history),
            ("POST", "/channels/{channel_id}/messages", self._create_message),
            ("GET", msg, self._get_message),
            ("PATCH", msg, self._edit_message),
            ("DELETE", msg, self._delete_message),
            ("PUT", f"{msg}/reactions/{{emoji}}/@me", self._add_reaction),
            ("DELETE", f"{msg}/reactions/{{emoji}}/@me", self._remove_reaction),
            ("DELETE", f"{msg}/reactions/{{emoji}}/{{member_id}}", self._remove_reaction),
            ("GET", f"{msg}/reactions/{{emoji}}", self._reaction_users),
            ("DELETE", f"{msg}/reactions/{{emoji}}", self._clear_reactions),
            ("DELETE", f"{msg}/reactions", self._clear_reactions),
            ("POST", "/interactions/{webhook_id}/{webhook_token}/callback", self._callback),
            ("POST", hook, self._followup),
            ("GET", f"{hook}/messages/@original", self._get_webhook_message),
            ("PATCH", f"{hook}/messages/@original", self._edit_webhook_message),
            ("DELETE", f"{hook}/messages/@original", self._delete_webhook_message),
            ("GET", f"{hook}/messages/{{message_id}}", self._get_webhook_message),
            ("PATCH", f"{hook}/messages/{{message_id}}", self._edit_webhook_message),
            ("DELETE", f"{hook}/messages/{{message_id}}", self._delete_webhook_message),
        ]
        for method, template, handler in routes:
            table.add(method, template, handler)

    # --- echoes -------------------------------------------------------------------------------

    def _bot_member(self, guild_id: str) -> dict[str, Any] | None:
        found = self.world.members.get(guild_id, {}).get(self.world.bot["id"])
        if found is None:
            return None
        return {k: v for k, v in found.items() if k != "user"}

    def echo_message(self, event: str, message: Mapping[str, Any]) -> None:
        """MESSAGE_CREATE / MESSAGE_UPDATE of a message the bot made or changed."""
        if str(message["id"]) in self.world.ephemeral:
            return
        data = dict(message)
        guild_id = data.get("guild_id")
        if guild_id is not None and (member := self._bot_member(guild_id)) is not None:
            data["member"] = member
        self._emit(event, data)

    def _echo_delete(self, message: Mapping[str, Any]) -> None:
        data = {"id": message["id"], "channel_id": message["channel_id"]}
        if message.get("guild_id"):
            data["guild_id"] = message["guild_id"]
        self._emit("MESSAGE_DELETE", data)

    # --- users, guilds, channels --------------------------------------------------------------

    def _get_message(self, r: ApiRequest) -> dict[str, Any]:
        """A message as the app may see it: without the Message Content intent, a guild
        message's content is empty unless the bot wrote it or is mentioned (REST too)."""
        message = self.world.message(r.params["channel_id"], r.params["message_id"])
        if self._content_allowed() or not message.get("guild_id"):
            return message
        bot_id = self.world.bot["id"]
        author = (message.get("author") or {}).get("id")
        mentioned = any(str(m.get("id")) == bot_id for m in message.get("mentions") or ())
        if author == bot_id or mentioned:
            return message
        return {**message, "content": "", "embeds": [], "attachments": [], "components": []}

    def _my_guilds(self, r: ApiRequest) -> list[dict[str, Any]]:
        return [
            {
                "id": g["id"],
                "name": g["name"],
                "icon": g.get("icon"),
                "banner": g.get("banner"),
                "owner": False,
                "permissions": str(p.Permission.BOT),
                "features": g.get("features", []),
            }
            for g in self.world.guilds.values()
        ]

    def _open_dm(self, r: ApiRequest) -> dict[str, Any]:
        recipient = r.body.get("recipient_id")
        if recipient in (None, ""):
            raise _invalid("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
        return self.world.dm_channel(str(recipient))

    def _get_guild(self, r: ApiRequest) -> dict[str, Any]:
        with_counts = _truthy(r.query.get("with_counts"))
        return self.world.rest_guild(r.params["guild_id"], with_counts=with_counts)

    def _guild_part(self, r: ApiRequest, key: str) -> list[dict[str, Any]]:
        return list(self.world.guild(r.params["guild_id"]).get(key, []))

    def _typing(self, r: ApiRequest) -> None:
        self.world.channel(r.params["channel_id"])

    # --- messages -----------------------------------------------------------------------------

    def _history(self, r: ApiRequest) -> list[dict[str, Any]]:
        messages = self.world.history(self.world.channel(r.params["channel_id"])["id"])
        limit = max(1, min(int(r.query.get("limit") or 50), 100))
        before, after, around = (r.query.get(k) for k in ("before", "after", "around"))
        if before:
            messages = [m for m in messages if int(m["id"]) < int(before)]
        if after:
            chosen = [m for m in messages if int(m["id"]) > int(after)][:limit]
            return list(reversed(chosen))
        if around:
            older = [m for m in messages if int(m["id"]) <= int(around)]
            newer = [m for m in messages if int(m["id"]) > int(around)]
            half = limit // 2
            chosen = older[-(limit - half) :] + newer[:half]
            return list(reversed(chosen))
        return list(reversed(messages[-limit:]))

    def _create_message(self, r: ApiRequest) -> dict[str, Any]:
        channel = self.world.channel(r.params["channel_id"])
        if channel.get("type") == p.ChannelType.DM:
            recipients = channel.get("recipients") or [{}]
            if str(recipients[0].get("id")) in self.world.dm_blocked:
                raise fail(CANNOT_DM)
        validation.check_message(r.body, files=len(r.files))
        nonce = r.body.get("nonce")
        if nonce is not None and r.body.get("enforce_nonce"):
            # Discord: the same nonce in the same channel within minutes is the same message.
            for sent in reversed(self.world.history(str(channel["id"]))):
                if sent.get("nonce") == nonce:
                    return sent
        message = self.world.new_message(channel, r.body, r.files)
        self.world.store(message)
        self.echo_message("MESSAGE_CREATE", message)
        return message

    def _own_message(self, r: ApiRequest) -> dict[str, Any]:
        message = self.world.message(r.params["channel_id"], r.params["message_id"])
        if str(message["author"]["id"]) != self.world.bot["id"]:
            raise fail(CANNOT_EDIT_OTHERS)
        return message

    def _edit_message(self, r: ApiRequest) -> dict[str, Any]:
        message = self._own_message(r)
        validation.check_message(r.body, files=len(r.files), edit=True)
        self.world.edit(message, r.body, r.files)
        self.echo_message("MESSAGE_UPDATE", message)
        return message

    def _delete_message(self, r: ApiRequest) -> None:
        message = self.world.message(r.params["channel_id"], r.params["message_id"])
        self.world.remove(message["id"])
        self._echo_delete(message)

    # --- reactions ----------------------------------------------------------------------------

    def _reaction_event(
        self, event: str, message: Mapping[str, Any], emoji: dict[str, Any], user_id: str
    ) -> None:
        data: dict[str, Any] = {
            "user_id": user_id,
            "channel_id": message["channel_id"],
            "message_id": message["id"],
            "emoji": emoji,
            "burst": False,
            "type": 0,
        }
        if message.get("guild_id"):
            data["guild_id"] = message["guild_id"]
        if event == "MESSAGE_REACTION_ADD":
            data["message_author_id"] = message["author"]["id"]
            data["burst_colors"] = []
            if message.get("guild_id") and user_id == self.world.bot["id"]:
                member = self._bot_member(message["guild_id"])
                if member is not None:
                    data["member"] = {**member, "user": self.world.bot}
        self._emit(event, data)

    def _add_reaction(self, r: ApiRequest) -> None:
        message = self.world.message(r.params["channel_id"], r.params["message_id"])
        emoji = p.emoji(r.params["emoji"])
        if self.world.react(message, emoji, self.world.bot["id"]):
            self._reaction_event("MESSAGE_REACTION_ADD", message, emoji, self.world.bot["id"])

    def _remove_reaction(self, r: ApiRequest) -> None:
        message = self.world.message(r.params["channel_id"], r.params["message_id"])
        user_id = r.params.get("member_id", self.world.bot["id"])
        emoji = p.emoji(r.params["emoji"])
        if self.world.unreact(message, emoji, user_id):
            self._reaction_event("MESSAGE_REACTION_REMOVE", message, emoji, user_id)

    def _reaction_users(self, r: ApiRequest) -> list[dict[str, Any]]:
        message = self.world.message(r.params["channel_id"], r.params["message_id"])
        users = self.world.reactors.get((message["id"], emoji_key(r.params["emoji"])), [])
        after = int(r.query.get("after") or 0)
        limit = max(1, min(int(r.query.get("limit") or 25), 100))
        chosen = sorted(int(u) for u in users if int(u) > after)[:limit]
        return [self.world.users.get(str(u)) or p.user(u, f"user{u}") for u in chosen]

    def _clear_reactions(self, r: ApiRequest) -> None:
        message = self.world.message(r.params["channel_id"], r.params["message_id"])
        emoji = r.params.get("emoji")
        self.world.clear_reactions(message, emoji_key(emoji) if emoji else None)

    # --- application commands -----------------------------------------------------------------

    def _command_scope(self, r: ApiRequest) -> dict[str, dict[str, Any]]:
        if r.params["application_id"] != str(self.world.application["id"]):
            raise ApiError(404, 10002, "Unknown Application")
        guild_id = r.params.get("guild_id")
        if guild_id is not None:
            self.world.guild(guild_id)
        return self.world.commands(guild_id)

    def _stored_command(
        self, r: ApiRequest, body: Mapping[str, Any], existing: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        kind = int(body.get("type") or 1)
        command: dict[str, Any] = {
            "id": existing["id"] if existing else str(p.snowflake()),
            "application_id": str(self.world.application["id"]),
            "version": str(p.snowflake()),
            "type": kind,
            "name": body["name"],
            "description": body.get("description") or "",
            "default_member_permissions": (
                None
                if body.get("default_member_permissions") is None
                else str(body["default_member_permissions"])
            ),
            "dm_permission": body.get("dm_permission", True),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
            "nsfw": bool(body.get("nsfw", False)),
        }
        for key in ("options", "name_localizations", "description_localizations"):
            if body.get(key):
                command[key] = body[key]
        if r.params.get("guild_id"):
            command["guild_id"] = r.params["guild_id"]
        return command

    def _list_commands(self, r: ApiRequest) -> list[dict[str, Any]]:
        return list(self._command_scope(r).values())

    def _overwrite_commands(self, r: ApiRequest) -> list[dict[str, Any]]:
        scope = self._command_scope(r)
        bodies = r.json if isinstance(r.json, list) else []
        validation.check_commands(bodies)
        by_name = {(c["type"], c["name"]): c for c in scope.values()}
        fresh = [
            self._stored_command(r, b, by_name.get((int(b.get("type") or 1), b["name"])))
            for b in bodies
        ]
        scope.clear()
        scope.update((c["id"], c) for c in fresh)
        return fresh

    def _upsert_command(self, r: ApiRequest) -> dict[str, Any]:
        scope = self._command_scope(r)
        validation.check_commands([r.body])
        kind = int(r.body.get("type") or 1)
        existing = next(
            (c for c in scope.values() if (c["type"], c["name"]) == (kind, r.body["name"])), None
        )
        command = self._stored_command(r, r.body, existing)
        scope[command["id"]] = command
        return command

    def _command(self, r: ApiRequest) -> dict[str, Any]:
        command = self._command_scope(r).get(r.params["command_id"])
        if command is None:
            raise fail(UNKNOWN_COMMAND)
        return command

    def _get_command(self, r: ApiRequest) -> dict[str, Any]:
        return self._command(r)

    def _edit_command(self, r: ApiRequest) -> dict[str, Any]:
        command = self._command(r)
        merged = {**command, **r.body}
        validation.check_commands([merged])
        command.update(self._stored_command(r, merged, command))
        return command

    def _delete_command(self, r: ApiRequest) -> None:
        del self._command_scope(r)[self._command(r)["id"]]

    # --- interactions -------------------------------------------------------------------------

    def _interaction_message(
        self,
        record: InteractionRecord,
        body: Mapping[str, Any],
        r: ApiRequest,
        *,
        loading: bool = False,
        original_id: str | None = None,
    ) -> dict[str, Any]:
        payload = record.payload
        channel = self.world.channels.get(str(payload.get("channel_id"))) or payload["channel"]
        flags = int(body.get("flags") or 0) & (p.EPHEMERAL | 4)
        if loading:
            flags |= p.LOADING
        metadata: dict[str, Any] = {
            "id": record.id,
            "type": record.type,
            "user": record.invoker,
            "authorizing_integration_owners": payload.get("authorizing_integration_owners", {}),
        }
        if record.type == p.InteractionType.APPLICATION_COMMAND:
            metadata["name"] = payload["data"]["name"]
            metadata["command_type"] = payload["data"].get("type", 1)
        if payload.get("message"):
            metadata["interacted_message_id"] = payload["message"]["id"]
        if original_id is not None:
            metadata["original_response_message_id"] = original_id
        message = self.world.new_message(
            channel,
            {**body, "flags": flags},
            r.files,
            author=self.world.bot,
            webhook_id=str(self.world.application["id"]),
            application_id=str(self.world.application["id"]),
            interaction_metadata=metadata,
        )
        if record.type == p.InteractionType.APPLICATION_COMMAND:
            message["type"] = 20  # CHAT_INPUT_COMMAND reply
        return message

    def _store_interaction_message(self, message: dict[str, Any]) -> None:
        self.world.store(message, ephemeral=bool(message["flags"] & p.EPHEMERAL))
        self.echo_message("MESSAGE_CREATE", message)

    def _component_message(self, record: InteractionRecord) -> dict[str, Any]:
        """The message a component sits on, stored (from the payload) if the fake lacks it."""
        carried = record.payload.get("message")
        if carried is None:
            raise _invalid("type", "INTERACTION_RESPONSE_TYPE_INVALID", "No message to update")
        stored = self.world.messages.get(str(carried["id"]))
        if stored is None:
            stored = self.world.store(dict(carried))
        return stored

    def _callback(self, r: ApiRequest) -> dict[str, Any] | None:
        record = self.world.interaction(r.params["webhook_id"], r.params["webhook_token"])
        kind = r.body.get("type")
        if record.response_type is not None:
            raise fail(ALREADY_ACKNOWLEDGED)
        if kind not in _CALLBACKS_FOR.get(record.type, set()):
            raise _invalid(
                "type",
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Callback type {kind} cannot answer interaction type {record.type}",
            )
        data = r.body.get("data") if isinstance(r.body.get("data"), dict) else {}
        message: dict[str, Any] | None = None
        if kind == Callback.MESSAGE:
            validation.check_message(data, files=len(r.files))
            message = self._interaction_message(record, data, r)
            self._store_interaction_message(message)
            record.original_id = message["id"]
        elif kind == Callback.DEFERRED_MESSAGE:
            message = self._interaction_message(
                record, {"flags": data.get("flags")}, r, loading=True
            )
            self._store_interaction_message(message)
            record.original_id, record.loading = message["id"], True
        elif kind in (Callback.DEFERRED_UPDATE, Callback.UPDATE_MESSAGE):
            message = self._component_message(record)
            record.original_id = message["id"]
            if kind == Callback.UPDATE_MESSAGE:
                validation.check_message(data, files=len(r.files), edit=True)
                self.world.edit(message, data, r.files)
                self.echo_message("MESSAGE_UPDATE", message)
            else:
                message = None
        elif kind == Callback.AUTOCOMPLETE:
            validation.check_autocomplete(data)
        elif kind == Callback.MODAL:
            validation.check_modal(data)
        record.response_type = kind
        if not _truthy(r.query.get("with_response")):
            return None
        answer: dict[str, Any] = {"interaction": {"id": record.id, "type": record.type}}
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            answer["interaction"].update(
                response_message_id=message["id"],
                response_message_loading=bool(message["flags"] & p.LOADING),
                response_message_ephemeral=bool(message["flags"] & p.EPHEMERAL),
            )
            resource["message"] = message
        answer["resource"] = resource
        return answer

    def _answered(self, r: ApiRequest) -> InteractionRecord:
        record = self.world.interaction_by_token(r.params["webhook_id"], r.params["webhook_token"])
        if record.response_type is None:
            raise fail(UNKNOWN_WEBHOOK)
        return record

    def _followup(self, r: ApiRequest) -> dict[str, Any] | None:
        record = self._answered(r)
        validation.check_message(r.body, files=len(r.files))
        if record.loading and record.original_id in self.world.messages:
            # The first followup after a deferred reply replaces the "thinking…" message and
            # keeps its visibility (ephemeral or not), as on Discord.
            message = self.world.messages[record.original_id]
            body = {k: v for k, v in r.body.items() if k != "flags"}
            self.world.edit(message, body, r.files)
            record.loading = False
            self.echo_message("MESSAGE_UPDATE", message)
        else:
            message = self._interaction_message(record, r.body, r, original_id=record.original_id)
            self._store_interaction_message(message)
            record.followup_ids.append(message["id"])
        return message if _truthy(r.query.get("wait")) else None

    def _webhook_message(self, r: ApiRequest) -> tuple[InteractionRecord, dict[str, Any]]:
        record = self._answered(r)
        wanted = r.params.get("message_id", "@original")
        if wanted == "@original":
            wanted = record.original_id or ""
        elif wanted not in record.followup_ids and wanted != record.original_id:
            raise fail(UNKNOWN_MESSAGE)
        message = self.world.messages.get(wanted)
        if message is None:
            raise fail(UNKNOWN_MESSAGE)
        return record, message

    def _get_webhook_message(self, r: ApiRequest) -> dict[str, Any]:
        return self._webhook_message(r)[1]

    def _edit_webhook_message(self, r: ApiRequest) -> dict[str, Any]:
        record, message = self._webhook_message(r)
        validation.check_message(r.body, files=len(r.files), edit=True)
        self.world.edit(message, r.body, r.files)
        if message["id"] == record.original_id:
            record.loading = False
        self.echo_message("MESSAGE_UPDATE", message)
        return message

    def _delete_webhook_message(self, r: ApiRequest) -> None:
        record, message = self._webhook_message(r)
        ephemeral = message["id"] in self.world.ephemeral
        self.world.remove(message["id"])
        if message["id"] in record.followup_ids:
            record.followup_ids.remove(message["id"])
        if not ephemeral:
            self._echo_delete(message)
