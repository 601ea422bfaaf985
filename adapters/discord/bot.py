"""Lodestar's Discord adapter: discord.py events in, core calls, Discord replies out.

* ``/feedback`` and ``/nsm`` (one optional ``text`` option carrying the same
  grammar as the console and Slack, with autocomplete), the "Log as feedback"
  message menu, and card buttons are interactions: the core answers within the
  interaction, privately (ephemeral) unless the reply is public. A call that takes
  longer than ``DEFER_AFTER`` (or is known to be slow: exports, charts) is deferred
  and followed up, so Discord's 3-second window is never missed.
* 💡 and 👍 are raw reaction events (so uncached messages work too). They have no
  interaction to answer in: public replies go to the channel (a card replies to the
  captured message), and the few private ones worth it (errors, likely duplicates)
  go by DM.
* Every send carries ``AllowedMentions.none()``; the client is made with it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from adapters.common.buttons import item_of_button
from adapters.common.chat import ChatAdapter, Conversation
from adapters.discord import render
from adapters.discord.messenger import PLATFORM, DiscordMessenger
from adapters.discord.settings import DiscordSettings
from bot import emoji
from bot.app import Lodestar
from bot.context import Caller, ChatMessage
from bot.replies import Kind, PostedCard, Reply, private
from bot.router import FEEDBACK_FORM

log = logging.getLogger(__name__)

#: Seconds an interaction waits for the core before it is deferred (Discord allows 3).
DEFER_AFTER = 1.5
#: Private replies worth a DM when there is no interaction to answer in.
_WORTH_A_DM = frozenset({Kind.ERROR, Kind.SUGGESTIONS, Kind.EXISTS})
MENU = "Log as feedback"
NOT_IN_A_SERVER = "Lodestar's board lives in a server: use /feedback there."
CANNOT_READ = (
    "I can't read that message: give me View Channel and Read Message History in "
    "that channel, or use the message's Apps › “Log as feedback” menu."
)
MESSAGE_GONE = "That message is gone (deleted?), so there is nothing to log."
CANNOT_POST = (
    "📝 Logged as #{number}, but I can't post its card in that channel: give me Send "
    "Messages and Embed Links there. Its card is here instead."
)
NO_CONTENT = (
    "I can't see what that message says: the Message Content intent is off for "
    "Lodestar (a server admin's bot owner turns it on in the Developer Portal › Bot › "
    "Privileged Gateway Intents). Meanwhile, use the message's Apps › “Log as feedback” menu."
)


@dataclass
class Where(Conversation):
    """A Discord conversation: the interaction to answer, if there is one."""

    interaction: discord.Interaction[Any] | None = None
    deferred: bool = False  # a "thinking…" message (ephemeral) stands in for the answer
    original_filled: bool = False  # the interaction's own message has been given


def intents(settings: DiscordSettings) -> discord.Intents:
    """Guilds and reactions; message content when allowed. No members intent."""
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.guild_reactions = True
    chosen.message_content = settings.message_content
    return chosen


class _Events:
    """The gateway events Lodestar listens to, on a plain or a sharded client."""

    lodestar_bot: DiscordBot

    async def setup_hook(self) -> None:
        await self.lodestar_bot.setup()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.lodestar_bot.on_interaction(interaction)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.lodestar_bot.on_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.lodestar_bot.on_reaction(payload, added=False)


class LodestarClient(_Events, discord.Client):
    def __init__(self, bot: DiscordBot, **options: Any) -> None:
        super().__init__(**options)
        self.lodestar_bot = bot


class ShardedLodestarClient(_Events, discord.AutoShardedClient):
    def __init__(self, bot: DiscordBot, **options: Any) -> None:
        super().__init__(**options)
        self.lodestar_bot = bot


def make_client(bot: DiscordBot, settings: DiscordSettings, shards: int | None) -> discord.Client:
    """One shard, or ``AutoShardedClient`` for several; no member cache, no chunking
    at start-up, no message cache: memory stays flat with the number of guilds."""
    options: dict[str, Any] = {
        "intents": intents(settings),
        "allowed_mentions": render.NO_PINGS,
        "chunk_guilds_at_startup": False,
        "member_cache_flags": discord.MemberCacheFlags.none(),
        "max_messages": None,
    }
    if shards is not None and shards > 1:
        return ShardedLodestarClient(bot, shard_count=shards, **options)
    return LodestarClient(bot, **options)


class DiscordBot(ChatAdapter[Where]):
    """Lodestar on Discord, over one discord.py client (plain or sharded)."""

    platform = PLATFORM

    def __init__(
        self, lodestar: Lodestar, settings: DiscordSettings, *, shards: int | None = None
    ) -> None:
        self.settings = settings
        self.client = make_client(self, settings, shards)
        super().__init__(
            lodestar,
            DiscordMessenger(self.client),
            core=settings.core_runner,
            dispatch_every=settings.dispatch_every,
        )
        self.tree = app_commands.CommandTree(self.client)
        self._register_commands()
        self._capture = emoji.canonical(settings.capture_emoji)
        self._vote = emoji.canonical(settings.vote_emoji)
        self._admin_role = (settings.admin_role or "").strip().lower()
        self.dispatch_loop = False  # run the outbox on a timer (serve), or only when kicked
        self._outbox_task: asyncio.Task[None] | None = None

    # -- start-up ----------------------------------------------------------------------

    async def setup(self) -> None:
        """discord.py's ``setup_hook``: the gateway to use, the buttons, the commands."""
        if self.settings.api_url:
            # A plain Client does not ask where the gateway is: ask the REST base we use.
            _shards, url, _limit = await self.client.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        self.client.add_dynamic_items(render.CardButton)
        guild = discord.Object(self.settings.guild_id) if self.settings.guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)
        await self.start()  # each board's duplicate index, in the background
        if self.dispatch_loop:
            self._outbox_task = asyncio.create_task(self.outbox.forever())

    def _register_commands(self) -> None:
        bot = self

        @app_commands.command(
            name="feedback", description="The feedback board: log, vote, look, merge, ship"
        )
        @app_commands.describe(text="Your feedback, or a command: vote #3, top, show #3, help")
        @app_commands.guild_only()
        async def feedback(interaction: discord.Interaction, text: str | None = None) -> None:
            await bot.on_command(interaction, "feedback", text or "")

        @app_commands.command(name="nsm", description="The North Star Metric: why it moved")
        @app_commands.describe(text="A command: why, chart, tree, history <metric>, help")
        @app_commands.guild_only()
        async def nsm(interaction: discord.Interaction, text: str | None = None) -> None:
            await bot.on_command(interaction, "nsm", text or "")

        @feedback.autocomplete("text")
        async def feedback_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return await bot.choices("feedback", interaction, current)

        @nsm.autocomplete("text")
        async def nsm_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return await bot.choices("nsm", interaction, current)

        self.tree.add_command(feedback)
        self.tree.add_command(nsm)
        menu = app_commands.ContextMenu(name=MENU, callback=bot.on_log_message)
        menu.guild_only = True
        self.tree.add_command(menu)

    # -- who is asking ------------------------------------------------------------------

    def is_admin(self, member: discord.abc.User | None, permissions: discord.Permissions) -> bool:
        """Manage Server (or Administrator), or the configured admin role."""
        if permissions.manage_guild or permissions.administrator:
            return True
        roles = getattr(member, "roles", None) or []
        wanted = self._admin_role
        return bool(wanted) and any(str(r.id) == wanted or r.name.lower() == wanted for r in roles)

    def where_of(self, interaction: discord.Interaction[Any]) -> Where | None:
        if interaction.guild_id is None:
            return None
        user = interaction.user
        caller = Caller(
            platform=PLATFORM,
            workspace=str(interaction.guild_id),
            user=str(user.id),
            name=user.display_name,
            channel=str(interaction.channel_id) if interaction.channel_id else None,
            is_platform_admin=self.is_admin(user, interaction.permissions),
            workspace_name=interaction.guild.name if interaction.guild else None,
        )
        return Where(caller, caller.channel, interaction=interaction)

    # -- interactions -------------------------------------------------------------------

    async def on_command(
        self, interaction: discord.Interaction[Any], command: str, text: str
    ) -> None:
        where = self.where_of(interaction)
        if where is None:
            await interaction.response.send_message(NOT_IN_A_SERVER, ephemeral=True)
            return
        head = (text.split() or [""])[0].lower()
        slow = (command == "nsm" and head in ("", "why", "chart", "digest")) or head == "export"
        call = functools.partial(self.router.command, where.caller, command, text, fast=True)
        await self.answer(where, call, slow=slow)

    async def choices(
        self, command: str, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        where = self.where_of(interaction)
        if where is None:
            return []
        found = await self.core.now(self.router.complete, where.caller, command, current)
        return [app_commands.Choice(name=c.label, value=c.value) for c in found]

    async def on_log_message(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        where = self.where_of(interaction)
        if where is None:
            await interaction.response.send_message(NOT_IN_A_SERVER, ephemeral=True)
            return
        captured = self.chat_message(message, where.caller)
        call = functools.partial(self.router.capture_message, where.caller, captured, "menu")
        await self.answer(where, call)

    async def on_card_button(
        self, interaction: discord.Interaction[Any], verb: str, value: str
    ) -> None:
        where = self.where_of(interaction)
        if where is None:
            await interaction.response.send_message(NOT_IN_A_SERVER, ephemeral=True)
            return
        card = interaction.message
        if card is not None and not card.flags.ephemeral:
            where.card_at = (str(card.channel.id), str(card.id))

        def act() -> list[Reply]:
            # The card's own item (numbers change when a board joins another), and never
            # another board's card.
            target = item_of_button(self.router, where.caller, where.card_at, value)
            if isinstance(target, Reply):
                return [target]
            if verb == "vote":
                return self.router.vote_button(where.caller, target)
            return self.router.command(where.caller, "feedback", f"{verb} #{target}")

        await self.answer(where, act)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """A form's submission, matched by its custom id alone (no state kept)."""
        data = interaction.data or {}
        if (
            interaction.type is discord.InteractionType.modal_submit
            and data.get("custom_id") == render.FORM_ID
        ):
            text = render.submitted_text(data.get("components")) or ""
            await self.on_form(interaction, FEEDBACK_FORM.kind, text)

    async def on_form(self, interaction: discord.Interaction[Any], kind: str, text: str) -> None:
        where = self.where_of(interaction)
        if where is None:
            await interaction.response.send_message(NOT_IN_A_SERVER, ephemeral=True)
            return
        await self.answer(
            where, functools.partial(self.router.submit_form, where.caller, kind, text)
        )

    async def answer(
        self, where: Where, call: Callable[[], list[Reply]], *, slow: bool = False
    ) -> None:
        """Run the core for an interaction; defer if it is (or may be) slow."""
        assert where.interaction is not None
        work = asyncio.ensure_future(self.core.now(call))
        if slow or not (await asyncio.wait({work}, timeout=DEFER_AFTER))[0]:
            await where.interaction.response.defer(ephemeral=True, thinking=True)
            where.deferred = True
        await self.deliver(where, await work)

    # -- reactions ------------------------------------------------------------------------

    def reaction_kind(self, reacted: discord.PartialEmoji) -> str | None:
        if reacted.id is not None:  # a server's own emoji, even one named "bulb", is not 💡
            return None
        name = emoji.canonical(reacted.name or "")
        if name == self._capture:
            return emoji.CAPTURE
        if name == self._vote:
            return emoji.VOTE
        return None

    def on_reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        me = self.client.user
        if payload.guild_id is None or (me is not None and payload.user_id == me.id):
            return
        if payload.member is not None and payload.member.bot:
            return  # bots are never people: their reactions count for nothing
        kind = self.reaction_kind(payload.emoji)
        if kind is None or (kind == emoji.CAPTURE and not added):
            return
        self.tasks.spawn(self._reaction(payload, kind, added))

    async def _reaction(
        self, payload: discord.RawReactionActionEvent, kind: str, added: bool
    ) -> None:
        guild = self.client.get_guild(payload.guild_id or 0)
        member = payload.member
        caller = Caller(
            platform=PLATFORM,
            workspace=str(payload.guild_id),
            user=str(payload.user_id),
            name=member.display_name if member is not None else "",
            channel=str(payload.channel_id),
            is_platform_admin=False,  # reactions need no privilege
            workspace_name=guild.name if guild is not None else None,
        )
        where = Where(
            caller, caller.channel, card_at=(caller.channel or "", str(payload.message_id))
        )
        if kind == emoji.VOTE:
            target = ChatMessage(str(payload.channel_id), str(payload.message_id), "", "", "")
            replies = await self.core.later(self.router.reaction, caller, kind, target, added=added)
            await self.deliver(where, replies)
            return
        try:
            channel = self.client.get_partial_messageable(payload.channel_id)
            message = await channel.fetch_message(payload.message_id)
        except discord.HTTPException as error:
            log.info("could not read %s/%s: %s", payload.channel_id, payload.message_id, error)
            gone = isinstance(error, discord.NotFound)
            await self.send_private(
                where, [private(MESSAGE_GONE if gone else CANNOT_READ, kind=Kind.ERROR)]
            )
            return
        if not message.content and not self.client.intents.message_content:
            await self.send_private(where, [private(NO_CONTENT, kind=Kind.ERROR)])
            return
        captured = self.chat_message(message, caller)
        where.thread = str(message.id)
        replies = await self.core.later(self.router.reaction, caller, kind, captured, added=True)
        await self.deliver(where, replies)

    @staticmethod
    def chat_message(message: discord.Message, by: Caller) -> ChatMessage:
        """Someone's message as the core sees it; a bot's message is requested by the
        person who logged it (bots are never people)."""
        author = message.author
        human = not (author.bot or author.system)
        return ChatMessage(
            channel=str(message.channel.id),
            message_id=str(message.id),
            author=str(author.id) if human else by.user,
            author_name=author.display_name if human else by.name,
            text=message.content,
            permalink=message.jump_url,
        )

    # -- delivery: the hooks ChatAdapter.deliver calls -------------------------------

    async def post_public(self, where: Where, reply: Reply) -> tuple[str, str] | None:
        body = render.reply_message(reply)
        if where.interaction is not None:
            message_id = await self._respond(where, body, ephemeral=False)
            channel = where.interaction.channel_id
            return None if message_id is None or channel is None else (str(channel), message_id)
        channel = self.client.get_partial_messageable(int(where.channel or 0))
        if reply.thread_of and where.thread:
            body["reference"] = discord.MessageReference(
                message_id=int(where.thread), channel_id=channel.id, fail_if_not_exists=False
            )
        try:
            sent = await channel.send(**body)
        except discord.Forbidden:
            # Not allowed to post there: the person who reacted hears of it, with the card.
            if reply.card is None:
                raise
            note = CANNOT_POST.format(number=reply.card.number)
            await self._dm(where.caller.user, render.message([private(note), reply]))
            return None
        return str(sent.channel.id), str(sent.id)

    async def send_private(self, where: Where, replies: list[Reply]) -> None:
        if where.interaction is not None:
            await self._respond(where, render.message(replies), ephemeral=True)
            return
        worth = [r for r in replies if r.kind in _WORTH_A_DM]
        if worth:
            await self._dm(where.caller.user, render.message(worth))

    async def _dm(self, user: str, body: dict[str, Any]) -> None:
        try:
            dm = await self.client.http.start_private_message(int(user))
            await self.client.get_partial_messageable(int(dm["id"])).send(**body)
        except discord.HTTPException as error:  # they do not take DMs: nothing else to do
            log.info("could not DM %s: %s", user, error)

    async def upload_private(self, where: Where, reply: Reply) -> None:
        """Nothing to do: on Discord a private reply carries its files itself."""

    async def open_form(self, where: Where, reply: Reply) -> None:
        assert reply.form is not None
        interaction = where.interaction
        if interaction is not None and not interaction.response.is_done():
            await interaction.response.send_modal(render.FeedbackForm(reply.form))
            return
        await self.send_private(where, [reply])

    async def update_card(self, card: PostedCard) -> None:
        channel = self.client.get_partial_messageable(int(card.channel))
        await channel.get_partial_message(int(card.message_id)).edit(
            **render.card_message(card.card)
        )

    async def _respond(self, where: Where, body: dict[str, Any], *, ephemeral: bool) -> str | None:
        """Answer within the interaction: its response, then followups. Returns the id
        of the message sent."""
        interaction = where.interaction
        assert interaction is not None
        if not interaction.response.is_done():
            done = await interaction.response.send_message(**body, ephemeral=ephemeral)
            where.original_filled = True
            return None if done.message_id is None else str(done.message_id)
        if where.deferred and not where.original_filled:
            where.original_filled = True
            if not ephemeral:  # the "thinking…" message is private: post publicly below it
                await interaction.followup.send("Posted in the channel.", ephemeral=True)
        sent = await interaction.followup.send(**_followup(body), ephemeral=ephemeral, wait=True)
        return str(sent.id)

    # -- running ---------------------------------------------------------------------

    async def close(self, timeout: float = 10.0) -> None:
        if self._outbox_task is not None:
            self._outbox_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outbox_task
        await super().close(timeout)
        if not self.client.is_closed():
            await self.client.close()


def _followup(body: dict[str, Any]) -> dict[str, Any]:
    """A followup takes ``embeds`` only (no ``embed``) and no empty content."""
    out = dict(body)
    if "embed" in out:
        out["embeds"] = [out.pop("embed")]
    if out.get("content") is None:
        out.pop("content", None)
    return out
