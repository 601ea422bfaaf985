"""Builders of Discord gateway payloads, shaped as Discord's API v10 sends them.

Every builder returns a fresh ``dict`` (ids as strings, like on the wire) that discord.py 2.7
parses without complaint; send it with ``fake.dispatch(event, payload)``. Ids are snowflakes
whose timestamp part is distinct per id, so guilds spread over shards as
``(guild_id >> 22) % num_shards`` says.

The default identity below is shared with :class:`~.fake.FakeDiscord`: the bot user its
``GET /users/@me`` reports, the application its interactions belong to, and one guild
(``GUILD_ID``, channel ``#general``) whose owner, Alice, holds MANAGE_GUILD and whose other
member, Bob, does not.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

BOT_TOKEN = "fake-lodestar-bot-token"
APPLICATION_ID = 1_210_000_000_000_000_001
#: A bot's user id equals its application id for every application made since 2020.
BOT_USER_ID = APPLICATION_ID
BOT_NAME = "Lodestar"
GUILD_ID = 1_210_000_000_000_100_000
GUILD_NAME = "Lodestar Test"
CHANNEL_ID = 1_210_000_000_000_100_001
CHANNEL_NAME = "general"
ALICE_ID = 1_210_000_000_000_200_001
BOB_ID = 1_210_000_000_000_200_002
PRODUCT_ROLE_ID = 1_210_000_000_000_100_002
FEEDBACK_COMMAND_ID = 1_210_000_000_000_300_001
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class Permission:
    """Permission bits (``permissions`` fields are these, OR-ed, as a decimal string)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38

    #: What @everyone may do in a fresh guild's text channel (the part that matters here).
    MEMBER = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | USE_APPLICATION_COMMANDS
        | SEND_MESSAGES_IN_THREADS
    )
    #: A member who may configure the bot.
    MANAGER = MEMBER | MANAGE_GUILD | MANAGE_MESSAGES | MANAGE_CHANNELS
    #: What the bot holds (``app_permissions``).
    BOT = MEMBER | MANAGE_MESSAGES


class ChannelType:
    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GROUP_DM = 3
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    PUBLIC_THREAD = 11
    GUILD_FORUM = 15


class InteractionType:
    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CommandType:
    CHAT_INPUT = 1
    USER = 2
    MESSAGE = 3


class OptionType:
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    NUMBER = 10


#: ``context`` of an interaction: where it was invoked.
CONTEXT_GUILD, CONTEXT_BOT_DM, CONTEXT_PRIVATE_CHANNEL = 0, 1, 2
#: Message flag: only the invoking user sees the message.
EPHEMERAL = 1 << 6
#: Message flag: the deferred "is thinking…" placeholder.
LOADING = 1 << 7

Snowflake = int | str


class SnowflakeFactory:
    """Unique snowflakes, each with its own millisecond, never older than the wall clock."""

    def __init__(self, worker_id: int = 1) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._worker_id = worker_id
        self._increment = itertools.count()

    def __call__(self) -> int:
        with self._lock:
            now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            self._last_ms = max(now_ms, self._last_ms + 1)
            return (
                (self._last_ms << 22)
                | (self._worker_id << 17)
                | (1 << 12)
                | (next(self._increment) & 0xFFF)
            )


snowflake = SnowflakeFactory()


def snowflake_time(value: Snowflake) -> datetime:
    """When the snowflake was made (what Discord shows as creation time)."""
    return datetime.fromtimestamp(((int(value) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


def shard_of(guild_id: Snowflake, num_shards: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (int(guild_id) >> 22) % num_shards


def guild_id_for_shard(shard_id: int, num_shards: int) -> int:
    """A fresh guild id that lands on `shard_id` of `num_shards`."""
    while True:
        candidate = snowflake()
        if shard_of(candidate, num_shards) == shard_id:
            return candidate


def iso(moment: datetime | None = None) -> str:
    """A timestamp as Discord writes it (ISO 8601 with microseconds and offset)."""
    return (moment or datetime.now(UTC)).isoformat(timespec="microseconds")


def _sid(value: Snowflake | None) -> str | None:
    return None if value is None else str(value)


# --- users, roles, members ---------------------------------------------------------------------


def user(
    user_id: Snowflake | None = None,
    username: str = "alice",
    *,
    global_name: str | None = None,
    bot: bool = False,
) -> dict[str, Any]:
    """A user object; bots carry ``bot: true``, people carry no ``bot`` key at all."""
    data: dict[str, Any] = {
        "id": str(user_id or snowflake()),
        "username": username,
        "discriminator": "0",
        "global_name": global_name if global_name is not None else username.title(),
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
    }
    if bot:
        data["bot"] = True
    return data


def bot_user() -> dict[str, Any]:
    """The bot itself, as ``GET /users/@me`` and READY report it."""
    data = user(BOT_USER_ID, BOT_NAME.lower(), global_name=BOT_NAME, bot=True)
    data.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
    return data


def alice() -> dict[str, Any]:
    """The default guild's owner."""
    return user(ALICE_ID, "alice")


def bob() -> dict[str, Any]:
    """A plain member of the default guild."""
    return user(BOB_ID, "bob")


def role(
    name: str,
    *,
    role_id: Snowflake | None = None,
    permissions: int = 0,
    position: int = 1,
    color: int = 0,
    hoist: bool = False,
    managed: bool = False,
    mentionable: bool = False,
) -> dict[str, Any]:
    """A role object."""
    return {
        "id": str(role_id or snowflake()),
        "name": name,
        "color": color,
        "colors": {"primary_color": color, "secondary_color": None, "tertiary_color": None},
        "hoist": hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": managed,
        "mentionable": mentionable,
        "flags": 0,
    }


def everyone_role(guild_id: Snowflake, permissions: int = Permission.MEMBER) -> dict[str, Any]:
    """The @everyone role: its id is the guild's id, its position 0."""
    return role("@everyone", role_id=guild_id, permissions=permissions, position=0)


def member(
    member_user: Mapping[str, Any],
    *,
    roles: Iterable[Snowflake] = (),
    nick: str | None = None,
    joined_at: datetime | None = None,
    permissions: int | None = None,
) -> dict[str, Any]:
    """A guild member. `permissions` (the member's total permissions in the channel) is only
    present in interactions, as on Discord."""
    data: dict[str, Any] = {
        "user": dict(member_user),
        "roles": [str(r) for r in roles],
        "nick": nick,
        "avatar": None,
        "banner": None,
        "joined_at": iso(joined_at or datetime(2025, 1, 6, 9, 0, tzinfo=UTC)),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


# --- channels and guilds -----------------------------------------------------------------------


def text_channel(
    name: str = CHANNEL_NAME,
    *,
    channel_id: Snowflake | None = None,
    guild_id: Snowflake | None = GUILD_ID,
    position: int = 0,
    parent_id: Snowflake | None = None,
    topic: str | None = None,
    permission_overwrites: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A guild text channel."""
    data: dict[str, Any] = {
        "id": str(channel_id or snowflake()),
        "type": ChannelType.GUILD_TEXT,
        "name": name,
        "position": position,
        "permission_overwrites": [dict(o) for o in permission_overwrites],
        "parent_id": _sid(parent_id),
        "topic": topic,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


def dm_channel(recipient: Mapping[str, Any], channel_id: Snowflake | None = None) -> dict[str, Any]:
    """A DM channel with one recipient."""
    return {
        "id": str(channel_id or snowflake()),
        "type": ChannelType.DM,
        "last_message_id": None,
        "flags": 0,
        "recipients": [dict(recipient)],
    }


def guild(
    name: str = GUILD_NAME,
    *,
    guild_id: Snowflake | None = None,
    owner_id: Snowflake = ALICE_ID,
    channels: Sequence[Mapping[str, Any]] | None = None,
    roles: Sequence[Mapping[str, Any]] | None = None,
    members: Sequence[Mapping[str, Any]] | None = None,
    member_count: int | None = None,
    everyone_permissions: int = Permission.MEMBER,
    locale: str = "en-US",
) -> dict[str, Any]:
    """A guild as GUILD_CREATE carries it. Without the members intent Discord sends no member
    list but the bot's own member, so `members` defaults to just that; `member_count` is the
    real head count (defaults to the members given)."""
    gid = str(guild_id or snowflake())
    channel_list = [dict(c) for c in channels] if channels is not None else [text_channel()]
    for channel in channel_list:
        channel["guild_id"] = gid
    role_list = [everyone_role(gid, everyone_permissions)]
    role_list += [dict(r) for r in roles or ()]
    member_list = (
        [dict(m) for m in members]
        if members is not None
        else [member(bot_user(), joined_at=datetime(2025, 1, 6, 9, 0, tzinfo=UTC))]
    )
    text_ids = [c["id"] for c in channel_list if c["type"] == ChannelType.GUILD_TEXT]
    return {
        "id": gid,
        "name": name,
        "icon": None,
        "icon_hash": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": role_list,
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": text_ids[0] if text_ids else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "max_presences": None,
        "max_members": 500_000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": locale,
        "nsfw_level": 0,
        "nsfw": False,
        "incidents_data": None,
        "hub_type": None,
        "latest_onboarding_question_id": None,
        "home_header": None,
        "inventory_settings": None,
        # GUILD_CREATE only:
        "joined_at": iso(datetime(2025, 1, 6, 9, 0, tzinfo=UTC)),
        "large": False,
        "unavailable": False,
        "lazy": True,
        "member_count": member_count if member_count is not None else len(member_list),
        "members": member_list,
        "channels": channel_list,
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "activity_instances": [],
        "application_command_counts": {},
        "version": 1,
    }


def default_guild() -> dict[str, Any]:
    """``GUILD_ID`` with ``#general`` (``CHANNEL_ID``), a Product role; Alice owns it."""
    return guild(
        GUILD_NAME,
        guild_id=GUILD_ID,
        channels=[text_channel(CHANNEL_NAME, channel_id=CHANNEL_ID)],
        roles=[role("Product", role_id=PRODUCT_ROLE_ID, mentionable=True)],
        member_count=3,
    )


# --- messages ----------------------------------------------------------------------------------


def message(
    content: str = "",
    *,
    channel_id: Snowflake = CHANNEL_ID,
    guild_id: Snowflake | None = GUILD_ID,
    author: Mapping[str, Any] | None = None,
    message_id: Snowflake | None = None,
    mentions: Sequence[Mapping[str, Any]] = (),
    mention_roles: Iterable[Snowflake] = (),
    embeds: Sequence[Mapping[str, Any]] = (),
    components: Sequence[Mapping[str, Any]] = (),
    attachments: Sequence[Mapping[str, Any]] = (),
    message_reference: Mapping[str, Any] | None = None,
    flags: int = 0,
    timestamp: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A message object (author defaults to Alice; a bot author carries ``bot: true``)."""
    mid = str(message_id or snowflake())
    data: dict[str, Any] = {
        "id": mid,
        "type": 19 if message_reference is not None else 0,
        "channel_id": str(channel_id),
        "author": dict(author) if author is not None else alice(),
        "content": content,
        "timestamp": iso(timestamp or snowflake_time(mid)),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [dict(m) for m in mentions],
        "mention_roles": [str(r) for r in mention_roles],
        "attachments": [dict(a) for a in attachments],
        "embeds": [dict(e) for e in embeds],
        "reactions": [],
        "pinned": False,
        "flags": flags,
        "components": [dict(c) for c in components],
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    if message_reference is not None:
        data["message_reference"] = {"type": 0, **message_reference}
    data.update(extra)
    return data


def message_create(
    content: str = "",
    *,
    author: Mapping[str, Any] | None = None,
    roles: Iterable[Snowflake] = (),
    guild_id: Snowflake | None = GUILD_ID,
    mentions: Sequence[Mapping[str, Any]] = (),
    **kwargs: Any,
) -> dict[str, Any]:
    """A MESSAGE_CREATE payload: the message plus, in a guild, the author's partial member
    (no ``user`` key) and each mentioned user's ``member``."""
    data = message(content, author=author, guild_id=guild_id, mentions=mentions, **kwargs)
    if guild_id is not None:
        partial = member(data["author"], roles=roles)
        del partial["user"]
        data["member"] = partial
        for mentioned in data["mentions"]:
            mentioned_member = member(mentioned)
            del mentioned_member["user"]
            mentioned["member"] = mentioned_member
    return data


def attachment(
    filename: str,
    size: int,
    *,
    content_type: str | None = None,
    attachment_id: Snowflake | None = None,
) -> dict[str, Any]:
    """An attachment object as a stored message carries it."""
    aid = str(attachment_id or snowflake())
    url = f"https://cdn.example.invalid/attachments/{aid}/{filename}"
    data: dict[str, Any] = {
        "id": aid,
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
    }
    if content_type:
        data["content_type"] = content_type
    return data


def button(label: str, custom_id: str, *, style: int = 1, disabled: bool = False) -> dict[str, Any]:
    """A button component (style 1 primary, 2 secondary, 3 success, 4 danger)."""
    return {"type": 2, "style": style, "label": label, "custom_id": custom_id, "disabled": disabled}


def action_row(*components: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": [dict(c) for c in components]}


def card(
    text: str = "Feedback #1: dark mode",
    *,
    buttons: Sequence[tuple[str, str]] = (("Vote", "vote:1"),),
    channel_id: Snowflake = CHANNEL_ID,
    guild_id: Snowflake | None = GUILD_ID,
    **kwargs: Any,
) -> dict[str, Any]:
    """A message posted by the bot with an embed and a row of buttons (label, custom_id)."""
    return message(
        "",
        channel_id=channel_id,
        guild_id=guild_id,
        author=bot_user(),
        embeds=[{"type": "rich", "description": text}],
        components=[action_row(*(button(label, cid) for label, cid in buttons))],
        application_id=str(APPLICATION_ID),
        **kwargs,
    )


# --- interactions ------------------------------------------------------------------------------


def interaction(
    type: int,
    data: Mapping[str, Any] | None = None,
    *,
    invoker: Mapping[str, Any] | None = None,
    guild_id: Snowflake | None = GUILD_ID,
    channel: Mapping[str, Any] | None = None,
    roles: Iterable[Snowflake] = (),
    permissions: int = Permission.MEMBER,
    app_permissions: int = Permission.BOT,
    message: Mapping[str, Any] | None = None,
    locale: str = "en-US",
    guild_locale: str = "en-US",
    interaction_id: Snowflake | None = None,
    token: str | None = None,
    application_id: Snowflake = APPLICATION_ID,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload. In a guild the invoker comes as ``member`` (with its
    ``permissions``); in a DM (``guild_id=None``) as ``user``."""
    iid = str(interaction_id or snowflake())
    who = dict(invoker) if invoker is not None else alice()
    payload: dict[str, Any] = {
        "id": iid,
        "application_id": str(application_id),
        "type": type,
        "token": token or f"interaction.{iid}.{secrets.token_urlsafe(24)}",
        "version": 1,
        "app_permissions": str(app_permissions),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if data is not None:
        payload["data"] = dict(data)
    if guild_id is not None:
        gid = str(guild_id)
        if channel is None and gid != str(GUILD_ID):
            raise ValueError(f"pass channel=text_channel(...) of guild {gid}")
        chan = dict(channel) if channel is not None else text_channel(channel_id=CHANNEL_ID)
        chan.setdefault("guild_id", gid)
        chan.setdefault("permissions", str(permissions))
        payload.update(
            guild_id=gid,
            guild={"id": gid, "locale": guild_locale, "features": []},
            guild_locale=guild_locale,
            member=member(who, roles=roles, permissions=permissions),
            context=CONTEXT_GUILD,
            authorizing_integration_owners={"0": gid},
        )
    else:
        chan = dict(channel) if channel is not None else dm_channel(who)
        payload.update(
            user=who,
            context=CONTEXT_BOT_DM,
            authorizing_integration_owners={"0": "0"},
        )
    payload["channel"] = chan
    payload["channel_id"] = chan["id"]
    if message is not None:
        payload["message"] = dict(message)
    return payload


def _option(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        kind = OptionType.BOOLEAN
    elif isinstance(value, int):
        kind = OptionType.INTEGER
    elif isinstance(value, float):
        kind = OptionType.NUMBER
    else:
        kind = OptionType.STRING
    return {"name": name, "type": kind, "value": value}


def slash_command(
    name: str = "feedback",
    text: str | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    command_id: Snowflake | None = None,
    guild_command: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """``/name text:<text>``: an application command with (optional) string option ``text``.
    More options go in `options` (name → value; the option type follows the Python type)."""
    values = dict(options or {})
    if text is not None:
        values = {"text": text, **values}
    data: dict[str, Any] = {
        "id": str(command_id or FEEDBACK_COMMAND_ID),
        "name": name,
        "type": CommandType.CHAT_INPUT,
    }
    if values:
        data["options"] = [_option(k, v) for k, v in values.items()]
    if guild_command:
        data["guild_id"] = str(kwargs.get("guild_id", GUILD_ID))
    return interaction(InteractionType.APPLICATION_COMMAND, data, **kwargs)


def autocomplete(
    name: str = "feedback",
    partial: str = "",
    *,
    option: str = "text",
    command_id: Snowflake | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Autocomplete on ``/name <option>`` while the user has typed `partial`."""
    data = {
        "id": str(command_id or FEEDBACK_COMMAND_ID),
        "name": name,
        "type": CommandType.CHAT_INPUT,
        "options": [{"name": option, "type": OptionType.STRING, "value": partial, "focused": True}],
    }
    return interaction(InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE, data, **kwargs)


def _locate(kwargs: dict[str, Any], target: Mapping[str, Any]) -> None:
    """An interaction on a message happens in that message's guild and channel."""
    kwargs.setdefault("guild_id", target.get("guild_id"))
    if kwargs["guild_id"] is not None and "channel" not in kwargs:
        kwargs["channel"] = text_channel(
            "channel", channel_id=target["channel_id"], guild_id=kwargs["guild_id"]
        )


def message_command(
    target: Mapping[str, Any],
    name: str = "Log as feedback",
    *,
    command_id: Snowflake | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The message context-menu command `name` invoked on message `target`."""
    data = {
        "id": str(command_id or snowflake()),
        "name": name,
        "type": CommandType.MESSAGE,
        "target_id": target["id"],
        "resolved": {"messages": {target["id"]: dict(target)}},
    }
    _locate(kwargs, target)
    return interaction(InteractionType.APPLICATION_COMMAND, data, **kwargs)


def button_click(
    custom_id: str, message: Mapping[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """A click on button `custom_id` of `message` (default: a fresh :func:`card`)."""
    card_message = dict(message) if message is not None else card(buttons=[("Vote", custom_id)])
    _locate(kwargs, card_message)
    data = {"custom_id": custom_id, "component_type": 2}
    return interaction(InteractionType.MESSAGE_COMPONENT, data, message=card_message, **kwargs)


def modal_submit(custom_id: str, values: Mapping[str, str], **kwargs: Any) -> dict[str, Any]:
    """The submission of modal `custom_id` with text inputs (custom_id → value)."""
    rows = [
        {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
        for key, value in values.items()
    ]
    data = {"custom_id": custom_id, "components": rows}
    return interaction(InteractionType.MODAL_SUBMIT, data, **kwargs)


# --- reactions ---------------------------------------------------------------------------------


def emoji(value: str | Mapping[str, Any]) -> dict[str, Any]:
    """``"👍"`` → unicode emoji; ``"name:id"`` → custom emoji; a dict passes through."""
    if isinstance(value, Mapping):
        return dict(value)
    name, _, emoji_id = value.partition(":")
    if emoji_id:
        return {"id": emoji_id, "name": name, "animated": False}
    return {"id": None, "name": value}


def _reaction_target(
    target: Mapping[str, Any] | None,
    channel_id: Snowflake | None,
    message_id: Snowflake | None,
    guild_id: Snowflake | None,
) -> dict[str, Any]:
    if target is not None:
        channel_id = channel_id or target["channel_id"]
        message_id = message_id or target["id"]
        guild_id = guild_id or target.get("guild_id")
    if channel_id is None or message_id is None:
        raise ValueError("give the message, or channel_id and message_id")
    data: dict[str, Any] = {"channel_id": str(channel_id), "message_id": str(message_id)}
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


def reaction_add(
    target: Mapping[str, Any] | None = None,
    emoji_value: str | Mapping[str, Any] = "👍",
    *,
    reactor: Mapping[str, Any] | None = None,
    roles: Iterable[Snowflake] = (),
    channel_id: Snowflake | None = None,
    message_id: Snowflake | None = None,
    guild_id: Snowflake | None = None,
    message_author_id: Snowflake | None = None,
) -> dict[str, Any]:
    """A MESSAGE_REACTION_ADD payload: `reactor` (default Alice) reacted on `target` (a message
    dict, e.g. one the bot posted through the fake) or on channel_id/message_id."""
    who = dict(reactor) if reactor is not None else alice()
    data = _reaction_target(target, channel_id, message_id, guild_id)
    author_id = message_author_id or (target["author"]["id"] if target is not None else None)
    data.update(
        user_id=who["id"],
        emoji=emoji(emoji_value),
        burst=False,
        burst_colors=[],
        type=0,
    )
    if author_id is not None:
        data["message_author_id"] = str(author_id)
    if "guild_id" in data:
        data["member"] = member(who, roles=roles)
    return data


def reaction_remove(
    target: Mapping[str, Any] | None = None,
    emoji_value: str | Mapping[str, Any] = "👍",
    *,
    user_id: Snowflake = ALICE_ID,
    channel_id: Snowflake | None = None,
    message_id: Snowflake | None = None,
    guild_id: Snowflake | None = None,
) -> dict[str, Any]:
    """A MESSAGE_REACTION_REMOVE payload (Discord sends no member with it)."""
    data = _reaction_target(target, channel_id, message_id, guild_id)
    data.update(user_id=str(user_id), emoji=emoji(emoji_value), burst=False, type=0)
    return data
