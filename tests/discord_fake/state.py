"""The fake's small world: guilds, channels, users, messages, reactions, commands and the
interactions in flight. Pure data and lookups; the REST handlers and the gateway change it
with the fake's lock held."""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import payloads as p
from .mentions import mentioned
from .routes import ApiError, UploadedFile

UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
UNKNOWN_GUILD = (404, 10004, "Unknown Guild")
UNKNOWN_MEMBER = (404, 10007, "Unknown Member")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
UNKNOWN_USER = (404, 10013, "Unknown User")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
UNKNOWN_COMMAND = (404, 10063, "Unknown application command")

#: GUILD_CREATE keys that ``GET /guilds/{id}`` does not return.
_GATEWAY_ONLY_GUILD_KEYS = frozenset(
    {
        "joined_at",
        "large",
        "unavailable",
        "lazy",
        "member_count",
        "members",
        "channels",
        "threads",
        "presences",
        "voice_states",
        "stage_instances",
        "guild_scheduled_events",
        "soundboard_sounds",
        "embedded_activities",
        "activity_instances",
        "application_command_counts",
    }
)


def fail(error: tuple[int, int, str]) -> ApiError:
    return ApiError(*error)


def emoji_key(value: str | Mapping[str, Any]) -> str:
    """``"👍"`` or ``"name:id"``: how an emoji is written in a reaction route."""
    if isinstance(value, Mapping):
        return f"{value['name']}:{value['id']}" if value.get("id") else str(value["name"])
    name, _, emoji_id = value.partition(":")
    return f"{name}:{emoji_id}" if emoji_id else name


@dataclass
class InteractionRecord:
    """An interaction the fake dispatched, and how the app has answered it so far."""

    payload: dict[str, Any]
    response_type: int | None = None
    original_id: str | None = None
    loading: bool = False
    followup_ids: list[str] = field(default_factory=list)
    expired: bool = False

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def type(self) -> int:
        return int(self.payload["type"])

    @property
    def invoker(self) -> dict[str, Any]:
        if "member" in self.payload:
            return dict(self.payload["member"]["user"])
        return dict(self.payload["user"])


class World:
    """Everything the fake knows. Messages keep their wire shape, ids are strings."""

    def __init__(self, application: Mapping[str, Any], bot: Mapping[str, Any]) -> None:
        self.application = dict(application)
        self.bot = dict(bot)
        self.guilds: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {self.bot["id"]: self.bot}
        self.members: dict[str, dict[str, dict[str, Any]]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.channel_log: dict[str, list[str]] = {}
        self.ephemeral: set[str] = set()
        self.dm_channels: dict[str, str] = {}
        self.dm_blocked: set[str] = set()
        self.reactors: dict[tuple[str, str], list[str]] = {}
        self.global_commands: dict[str, dict[str, Any]] = {}
        self.guild_commands: dict[str, dict[str, dict[str, Any]]] = {}
        self.interactions: dict[str, InteractionRecord] = {}
        self.interactions_by_token: dict[str, InteractionRecord] = {}

    # --- seeding ------------------------------------------------------------------------------

    def add_user(self, user: Mapping[str, Any]) -> dict[str, Any]:
        stored = self.users.setdefault(str(user["id"]), dict(user))
        stored.update(user)
        return stored

    def add_guild(self, guild: Mapping[str, Any]) -> dict[str, Any]:
        stored = dict(guild)
        gid = str(stored["id"])
        self.guilds[gid] = stored
        members = self.members.setdefault(gid, {})
        for channel in stored.get("channels", []):
            channel["guild_id"] = gid
            self.add_channel(channel)
        for member in stored.get("members", []):
            user = self.add_user(member["user"])
            members[user["id"]] = member
        return stored

    def add_member(self, guild_id: str, member: Mapping[str, Any]) -> dict[str, Any]:
        self.guild(guild_id)
        user = self.add_user(member["user"])
        stored = dict(member, user=user)
        self.members.setdefault(guild_id, {})[user["id"]] = stored
        return stored

    def add_channel(self, channel: dict[str, Any]) -> dict[str, Any]:
        cid = str(channel["id"])
        self.channels[cid] = channel
        self.channel_log.setdefault(cid, [])
        gid = channel.get("guild_id")
        if gid is not None and gid in self.guilds:
            listed = self.guilds[gid].setdefault("channels", [])
            if all(c["id"] != cid for c in listed):
                listed.append(channel)
        if channel.get("type") == p.ChannelType.DM:
            for recipient in channel.get("recipients", []):
                self.add_user(recipient)
                self.dm_channels[str(recipient["id"])] = cid
        return channel

    # --- lookups ------------------------------------------------------------------------------

    def guild(self, guild_id: str) -> dict[str, Any]:
        if guild_id not in self.guilds:
            raise fail(UNKNOWN_GUILD)
        return self.guilds[guild_id]

    def rest_guild(self, guild_id: str, *, with_counts: bool) -> dict[str, Any]:
        guild = self.guild(guild_id)
        data = {k: v for k, v in guild.items() if k not in _GATEWAY_ONLY_GUILD_KEYS}
        if with_counts:
            data["approximate_member_count"] = guild.get("member_count", 0)
            data["approximate_presence_count"] = 0
        return data

    def channel(self, channel_id: str) -> dict[str, Any]:
        if channel_id not in self.channels:
            raise fail(UNKNOWN_CHANNEL)
        return self.channels[channel_id]

    def user(self, user_id: str) -> dict[str, Any]:
        if user_id not in self.users:
            raise fail(UNKNOWN_USER)
        return self.users[user_id]

    def member(self, guild_id: str, user_id: str) -> dict[str, Any]:
        self.guild(guild_id)
        found = self.members.get(guild_id, {}).get(user_id)
        if found is None:
            raise fail(UNKNOWN_MEMBER)
        return found

    def message(self, channel_id: str, message_id: str) -> dict[str, Any]:
        self.channel(channel_id)
        found = self.messages.get(message_id)
        if found is None or found["channel_id"] != channel_id or message_id in self.ephemeral:
            raise fail(UNKNOWN_MESSAGE)
        return found

    def history(self, channel_id: str) -> list[dict[str, Any]]:
        """Messages in `channel_id`, oldest first (ephemeral ones are nobody's history)."""
        return [self.messages[m] for m in self.channel_log.get(channel_id, [])]

    def dm_channel(self, user_id: str) -> dict[str, Any]:
        """The DM channel with `user_id`, opened on first use; unknown users get a stub."""
        if user_id in self.dm_channels:
            return self.channels[self.dm_channels[user_id]]
        recipient = self.users.get(user_id) or self.add_user(p.user(user_id, f"user{user_id}"))
        return self.add_channel(p.dm_channel(recipient))

    # --- messages -----------------------------------------------------------------------------

    def store(self, message: dict[str, Any], *, ephemeral: bool = False) -> dict[str, Any]:
        mid = str(message["id"])
        self.messages[mid] = message
        if ephemeral:
            self.ephemeral.add(mid)
        else:
            log = self.channel_log.setdefault(str(message["channel_id"]), [])
            if mid not in log:
                log.append(mid)
            channel = self.channels.get(str(message["channel_id"]))
            if channel is not None:
                channel["last_message_id"] = mid
        return message

    def remove(self, message_id: str) -> dict[str, Any]:
        message = self.messages.pop(message_id)
        self.ephemeral.discard(message_id)
        log = self.channel_log.get(str(message["channel_id"]), [])
        if message_id in log:
            log.remove(message_id)
        for key in [k for k in self.reactors if k[0] == message_id]:
            del self.reactors[key]
        return message

    def attachments(
        self,
        declared: Sequence[Mapping[str, Any]] | None,
        files: Sequence[UploadedFile],
        keep: Iterable[Mapping[str, Any]] = (),
    ) -> list[dict[str, Any]]:
        """Attachments of a new or edited message: `keep` are the current ones, of which those
        `declared` by id stay; each ``files[n]`` part becomes a new one (its metadata is the
        declared entry with ``id: n``)."""
        current = {str(a["id"]): a for a in keep}
        by_index = {str(a.get("id")): a for a in declared or ()}
        result = (
            [current[str(a["id"])] for a in declared if str(a.get("id")) in current]
            if declared is not None
            else list(current.values())
        )
        for index, part in enumerate(files):
            meta = by_index.get(str(index), {})
            filename = meta.get("filename") or part.filename
            content_type = mimetypes.guess_type(filename)[0] or part.content_type
            item = p.attachment(filename, part.size, content_type=content_type)
            if meta.get("description"):
                item["description"] = meta["description"]
            result.append(item)
        return result

    def new_message(
        self,
        channel: Mapping[str, Any],
        body: Mapping[str, Any],
        files: Sequence[UploadedFile] = (),
        *,
        author: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A message as Discord creates it from a create-message body (not yet stored)."""
        content = str(body.get("content") or "")
        user_ids, role_ids, everyone = mentioned(content)
        parse = (body.get("allowed_mentions") or {}).get("parse")
        reference = body.get("message_reference")
        referenced = None
        if reference:
            ref_id = str(reference.get("message_id"))
            referenced = self.messages.get(ref_id)
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {
                        "message_reference": {
                            "_errors": [
                                {
                                    "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                    "message": "Unknown message",
                                }
                            ]
                        }
                    },
                )
            reference = {
                "message_id": ref_id,
                "channel_id": str(reference.get("channel_id") or channel["id"]),
                **({"guild_id": channel["guild_id"]} if channel.get("guild_id") else {}),
            }
        message = p.message(
            content,
            channel_id=channel["id"],
            guild_id=channel.get("guild_id"),
            author=author or self.bot,
            mentions=[self.users.get(u) or p.user(u, f"user{u}") for u in user_ids],
            mention_roles=role_ids,
            embeds=[{"type": "rich", **e} for e in body.get("embeds") or ()],
            components=body.get("components") or (),
            attachments=self.attachments(body.get("attachments"), files),
            message_reference=reference,
            flags=int(body.get("flags") or 0),
            tts=bool(body.get("tts", False)),
            mention_everyone=everyone and (parse is None or "everyone" in parse),
            **extra,
        )
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if reference and referenced is not None:
            message["referenced_message"] = {
                k: v for k, v in referenced.items() if k != "referenced_message"
            }
        return message

    def edit(
        self,
        message: dict[str, Any],
        body: Mapping[str, Any],
        files: Sequence[UploadedFile] = (),
    ) -> dict[str, Any]:
        """Apply an edit body to a stored message in place."""
        for key in ("content", "embeds", "components"):
            if key in body:
                value = body[key]
                message[key] = (value or "") if key == "content" else list(value or [])
        if "embeds" in body:
            message["embeds"] = [{"type": "rich", **e} for e in message["embeds"]]
        if "attachments" in body or files:
            message["attachments"] = self.attachments(
                body.get("attachments"), files, keep=message.get("attachments", [])
            )
        if "flags" in body and body["flags"] is not None:
            keep = message.get("flags", 0) & (p.EPHEMERAL)
            message["flags"] = keep | (int(body["flags"]) & ~p.EPHEMERAL & ~p.LOADING)
        else:
            message["flags"] = message.get("flags", 0) & ~p.LOADING
        if "content" in body:
            users, roles, _ = mentioned(str(message["content"]))
            message["mentions"] = [self.users.get(u) or p.user(u, f"user{u}") for u in users]
            message["mention_roles"] = roles
        message["edited_timestamp"] = p.iso()
        return message

    # --- reactions ----------------------------------------------------------------------------

    def react(self, message: dict[str, Any], emoji: Mapping[str, Any], user_id: str) -> bool:
        """Add `user_id`'s reaction; False if it was already there."""
        key = (str(message["id"]), emoji_key(emoji))
        users = self.reactors.setdefault(key, [])
        if user_id in users:
            return False
        users.append(user_id)
        self._sync_reactions(message)
        return True

    def unreact(self, message: dict[str, Any], emoji: Mapping[str, Any], user_id: str) -> bool:
        key = (str(message["id"]), emoji_key(emoji))
        users = self.reactors.get(key, [])
        if user_id not in users:
            return False
        users.remove(user_id)
        if not users:
            del self.reactors[key]
        self._sync_reactions(message, removed=emoji)
        return True

    def clear_reactions(self, message: dict[str, Any], emoji: str | None = None) -> None:
        mid = str(message["id"])
        for key in [k for k in self.reactors if k[0] == mid and emoji in (None, k[1])]:
            del self.reactors[key]
        message["reactions"] = [
            r for r in message.get("reactions", []) if emoji not in (None, emoji_key(r["emoji"]))
        ]
        if emoji is None:
            message["reactions"] = []

    def _sync_reactions(
        self, message: dict[str, Any], removed: Mapping[str, Any] | None = None
    ) -> None:
        mid = str(message["id"])
        emojis = {emoji_key(r["emoji"]): r["emoji"] for r in message.get("reactions", [])}
        reactions = []
        for (msg_id, key), users in self.reactors.items():
            if msg_id != mid:
                continue
            emoji = emojis.get(key) or p.emoji(key)
            reactions.append(
                {
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.bot["id"] in users,
                    "me_burst": False,
                    "burst_me": False,
                    "burst_colors": [],
                    "burst_count": 0,
                    "emoji": emoji,
                }
            )
        message["reactions"] = reactions

    # --- interactions & commands --------------------------------------------------------------

    def register_interaction(self, payload: Mapping[str, Any]) -> InteractionRecord:
        record = InteractionRecord(copy.deepcopy(dict(payload)))
        self.interactions[record.id] = record
        self.interactions_by_token[record.token] = record
        return record

    def interaction(self, interaction_id: str, token: str) -> InteractionRecord:
        record = self.interactions.get(interaction_id)
        if record is None or record.token != token or record.expired:
            raise fail(UNKNOWN_INTERACTION)
        return record

    def interaction_by_token(self, application_id: str, token: str) -> InteractionRecord:
        if application_id != str(self.application["id"]):
            raise fail(UNKNOWN_WEBHOOK)
        record = self.interactions_by_token.get(token)
        if record is None or record.expired:
            raise fail(UNKNOWN_WEBHOOK)
        return record

    def commands(self, guild_id: str | None) -> dict[str, dict[str, Any]]:
        if guild_id is None:
            return self.global_commands
        return self.guild_commands.setdefault(guild_id, {})
