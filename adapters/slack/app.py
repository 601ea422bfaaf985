"""The Slack app: Bolt listeners that turn Slack requests into core calls and render the replies.

Acks and slow work are split so Slack always gets its answer fast:

* Slash commands, block actions and modal submissions run the (synchronous,
  millisecond) core call *before* the ack (``process_before_response=True``), and
  the ack carries the private reply as the ephemeral response body.
* Everything that talks to Slack afterwards — posting the public card, remembering
  its ts, updating cards, DMs, uploads, opening modals — runs as a background task
  once the response is on its way (``adapters.common.chat.ChatAdapter.deliver``).
* Events (reactions, App Home) and message shortcuts ack at once and do all their
  work in the background: they need Web API reads before the core can be called.

Before any listener, the front door (``front_door.py``) has refused what Slack did not
sign, and ``installed.py`` what comes from a team Lodestar is not installed in; anything
else Slack sends that no listener wants is acknowledged and ignored.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.buttons import item_of_button
from adapters.common.chat import ChatAdapter, Conversation
from adapters.slack import render
from adapters.slack.admins import People
from adapters.slack.front_door import bolt_logger
from adapters.slack.home import home_view
from adapters.slack.installed import NOT_INSTALLED, only_installed_teams, team_of
from adapters.slack.messenger import PLATFORM, SlackMessenger, upload
from adapters.slack.settings import SlackSettings
from bot import emoji
from bot.app import Lodestar
from bot.context import Caller, ChatMessage
from bot.replies import Kind, PostedCard, Reply, private
from bot.router import FEEDBACK_FORM

log = logging.getLogger(__name__)

COMMANDS = ("/feedback", "/nsm")
SHORTCUT = "log_feedback"
#: Errors after which a public card goes back through the command's response_url.
_CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


def make_client(settings: SlackSettings, token: str | None) -> AsyncWebClient:
    """A Web API client on SLACK_API_URL that waits out 429s (Retry-After) and reconnects."""
    return AsyncWebClient(
        token=token,
        base_url=settings.api_url or AsyncWebClient.BASE_URL,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


@dataclass
class Where(Conversation):
    """A Slack conversation: the client for its workspace and how to answer privately."""

    client: AsyncWebClient | None = None
    respond: AsyncRespond | None = None
    trigger_id: str | None = None

    @property
    def team(self) -> str:
        return self.caller.workspace

    @property
    def api(self) -> AsyncWebClient:
        assert self.client is not None
        return self.client


class SlackBot(ChatAdapter[Where]):
    """Lodestar's Slack adapter: a Bolt AsyncApp wired to one Lodestar core."""

    platform = PLATFORM

    def __init__(
        self,
        lodestar: Lodestar,
        settings: SlackSettings,
        *,
        client: AsyncWebClient | None = None,
        core_runner: str | None = None,
    ) -> None:
        self.settings = settings
        self.people = People(ttl=settings.people_ttl)
        self._capture = emoji.canonical(settings.capture_emoji)
        self._vote = emoji.canonical(settings.vote_emoji)
        self._session: aiohttp.ClientSession | None = None

        oauth = None
        if settings.oauth:
            from adapters.slack.oauth import oauth_settings

            oauth = oauth_settings(settings, lodestar.db.engine)
        self.client = client or make_client(settings, None if oauth else settings.bot_token)
        self.app = AsyncApp(
            name="lodestar",
            logger=bolt_logger(),
            signing_secret=settings.signing_secret or "",
            client=self.client,
            oauth_settings=oauth,
            process_before_response=True,
            user_facing_authorize_error_message=NOT_INSTALLED,
        )
        super().__init__(
            lodestar,
            SlackMessenger(self.client_for),
            core=core_runner or settings.core_runner,
            dispatch_every=settings.dispatch_every,
        )
        self._register()

    # -- plumbing --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Warm the core, and share one HTTP connection pool for every Web API call (call
        inside the loop)."""
        await super().start()
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self.client.session = self._session

    async def close(self, timeout: float = 10.0) -> None:
        await super().close(timeout)
        if self._session is not None:
            self.client.session = None
            await self._session.close()
            self._session = None

    async def client_for(self, team: str) -> AsyncWebClient:
        """A client with the bot token of workspace ``team`` (for outbox deliveries)."""
        if not self.settings.oauth:
            return self.client
        store = self.app.installation_store
        bot = await store.async_find_bot(enterprise_id=None, team_id=team) if store else None
        if bot is None:
            raise RuntimeError(f"Lodestar is not installed in Slack workspace {team}")
        return AsyncWebClient(
            token=bot.bot_token,
            base_url=self.client.base_url,
            session=self.client.session,
            retry_handlers=list(self.client.retry_handlers),
        )

    # -- translation helpers ---------------------------------------------------------------------

    def reaction_kind(self, name: str) -> str | None:
        """The core's emoji name for a configured capture/vote reaction, else None."""
        canonical = emoji.canonical(name)
        if canonical == self._capture:
            return emoji.CAPTURE
        if canonical == self._vote:
            return emoji.VOTE
        return None

    async def caller(
        self,
        client: AsyncWebClient,
        team: str,
        user: str,
        channel: str | None,
        *,
        name: str | None = None,
        team_name: str | None = None,
    ) -> Caller:
        person = await self.people.get(client, team, user, name)
        return Caller(
            platform=PLATFORM,
            workspace=team,
            user=user,
            name=person.name,
            channel=channel,
            is_platform_admin=person.is_admin,
            workspace_name=team_name,
        )

    @staticmethod
    def ack_body(replies: list[Reply]) -> dict[str, Any] | None:
        """The ephemeral answer to a command: its private replies, plus a receipt for a new
        item (its card is posted after the ack, so the receipt does not promise it)."""
        shown = []
        for reply in replies:
            if reply.kind is Kind.ITEM_CREATED and reply.card is not None:
                shown.append(private(f"📝 Logged as #{reply.card.number}."))
        shown += [r for r in replies if r.private and r.form is None]
        if not shown:
            return None
        return {**render.message(shown), "response_type": "ephemeral"}

    # -- delivery after the ack: the hooks ChatAdapter.deliver calls --------------------------

    def post_target(self, where: Where, reply: Reply) -> tuple[str, str | None]:
        """The conversation's channel (none: the app's DM with the caller), in the thread
        of the message the reply is about (its root, when that message is a reply)."""
        thread = (where.thread or reply.thread_of) if reply.thread_of else None
        return where.channel or where.caller.user, thread

    async def post_public(self, where: Where, reply: Reply) -> tuple[str, str] | None:
        channel, thread = self.post_target(where, reply)
        if reply.card is not None and reply.posts_card:
            body = render.card_message(reply.card, reply.text)
        else:
            body = render.message([reply])
        try:
            posted = await where.api.chat_postMessage(
                channel=channel, thread_ts=thread, unfurl_links=False, **body
            )
        except SlackApiError as error:
            if where.respond is None or error.response.get("error") not in _CANNOT_POST:
                raise
            # Not a member of this channel: answer in it through the command's response_url.
            await where.respond(response_type="in_channel", replace_original=False, **body)
            return None
        if reply.attachments:  # the post is made: a failed upload must not post it again
            try:
                await upload(where.api, posted["channel"], reply, thread=thread)
            except SlackApiError as error:
                log.warning("upload after a post failed: %s", _error(error))
        return posted["channel"], posted["ts"]

    async def send_private(self, where: Where, replies: list[Reply]) -> None:
        """Ephemeral: through response_url when there is one, else chat.postEphemeral, else
        (no channel, or one the bot cannot post in) a DM."""
        body = render.message(replies)
        if where.respond is not None:
            await where.respond(response_type="ephemeral", replace_original=False, **body)
            return
        if where.channel and not where.channel.startswith("D"):
            try:
                await where.api.chat_postEphemeral(
                    channel=where.channel, user=where.caller.user, **body
                )
                return
            except SlackApiError as error:  # not_in_channel, channel_not_found, …
                log.info("ephemeral in %s failed (%s): DM instead", where.channel, _error(error))
        await where.api.chat_postMessage(channel=where.caller.user, **body)

    async def upload_private(self, where: Where, reply: Reply) -> None:
        opened = await where.api.conversations_open(users=where.caller.user)
        await upload(where.api, opened["channel"]["id"], reply)

    async def open_form(self, where: Where, reply: Reply) -> None:
        assert reply.form is not None
        if where.trigger_id:
            try:
                await where.api.views_open(
                    trigger_id=where.trigger_id, view=render.modal(reply.form, where.channel)
                )
                return
            except SlackApiError as error:  # e.g. expired_trigger_id: ask in words instead
                log.warning("views.open failed: %s", error.response.get("error"))
        await self.send_private(where, [reply])

    async def update_card(self, card: PostedCard) -> None:
        client = await self.client_for(card.workspace)
        body = render.card_message(card.card, card.card.headline or None)
        await client.chat_update(channel=card.channel, ts=card.message_id, **body)

    # -- listeners -------------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        app.use(only_installed_teams)
        for command in COMMANDS:
            app.command(command)(self.on_command)
        app.shortcut(SHORTCUT)(self.on_shortcut)
        app.event("reaction_added")(self.on_reaction)
        app.event("reaction_removed")(self.on_reaction)
        app.event("app_home_opened")(self.on_home)
        app.action(render.VOTE)(self.on_vote_button)
        app.action(render.WHO)(self.on_card_button)
        app.action(render.SHOW)(self.on_card_button)
        app.action(render.OPEN_FORM)(self.on_open_form)
        app.view(render.FORM_CALLBACK)(self.on_form)
        # Anything else Slack sends is acknowledged and ignored: an unanswered request
        # is an error to the user (and a retry, for events).
        anything = re.compile(".*")
        app.command(anything)(self.on_command)  # the core answers "I don't know /x"
        for register in (app.action, app.view, app.view_closed, app.shortcut):
            register(anything)(_acknowledge)
        app.options(anything)(_no_options)
        app.event(anything)(_ignore)

    async def on_command(
        self, ack: Callable[..., Awaitable[Any]], command: dict[str, Any], context: Any
    ) -> None:
        trigger = command.get("trigger_id")
        if self.seen.repeat(f"trigger:{trigger}" if trigger else None):
            await ack()
            return
        client: AsyncWebClient = context.client
        caller = await self.caller(
            client,
            team_of(command) or "",
            command["user_id"],
            command.get("channel_id"),
            name=command.get("user_name"),
            team_name=command.get("team_domain"),
        )
        name = command["command"].lstrip("/")
        text = render.unescape(command.get("text") or "")
        replies = await self.core.now(self.router.command, caller, name, text, fast=True)
        body = self.ack_body(replies)
        await (ack(**body) if body else ack())
        where = Where(
            caller,
            command.get("channel_id"),
            client=client,
            respond=context.respond,
            trigger_id=trigger,
        )
        self.tasks.spawn(self.deliver(where, replies, acked=True))

    async def on_shortcut(
        self, ack: Callable[..., Awaitable[Any]], shortcut: dict[str, Any], context: Any
    ) -> None:
        await ack()
        trigger = shortcut.get("trigger_id")
        if self.seen.repeat(f"trigger:{trigger}" if trigger else None):
            return
        self.tasks.spawn(self._shortcut(shortcut, context.client, context.respond))

    async def _shortcut(
        self, shortcut: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond | None
    ) -> None:
        team = team_of(shortcut) or ""
        channel = shortcut["channel"]["id"]
        caller = await self.caller(
            client, team, shortcut["user"]["id"], channel, name=shortcut["user"].get("name")
        )
        message = shortcut["message"]
        captured = await self._chat_message(client, team, channel, message, caller)
        replies = await self.core.later(self.router.capture_message, caller, captured, "shortcut")
        where = Where(
            caller, channel, thread=message.get("thread_ts"), client=client, respond=respond
        )
        await self.deliver(where, replies)

    async def _chat_message(
        self,
        client: AsyncWebClient,
        team: str,
        channel: str,
        message: dict[str, Any],
        capturer: Caller,
    ) -> ChatMessage:
        """A message as the core takes it. A bot's message is asked for by the person who
        captured it: bots are never people (they would count in demand and get DMs)."""
        author_id, author_name = capturer.user, capturer.name
        if message.get("user") and not message.get("bot_id"):
            author = await self.people.get(client, team, message["user"], message.get("username"))
            if not author.is_bot:
                author_id, author_name = message["user"], author.name
        try:
            link = await client.chat_getPermalink(channel=channel, message_ts=message["ts"])
            permalink = link.get("permalink")
        except SlackApiError:
            permalink = None
        return ChatMessage(
            channel=channel,
            message_id=message["ts"],
            author=author_id,
            author_name=author_name,
            text=render.unescape(message.get("text") or ""),
            permalink=permalink,
        )

    async def on_reaction(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        if self.seen.repeat(f"event:{body.get('event_id')}"):
            return
        item = event.get("item") or {}
        kind = self.reaction_kind(event.get("reaction", ""))
        added = event.get("type") == "reaction_added"
        if kind is None or item.get("type") != "message" or (kind == emoji.CAPTURE and not added):
            return
        team = team_of(body) or ""
        self.tasks.spawn(self._reaction(context.client, team, event, kind, added))

    async def _reaction(
        self, client: AsyncWebClient, team: str, event: dict[str, Any], kind: str, added: bool
    ) -> None:
        channel, ts = event["item"]["channel"], event["item"]["ts"]
        if (await self.people.get(client, team, event["user"])).is_bot:
            return  # another app's 👍 or 💡: bots are never people, they count for nothing
        caller = await self.caller(client, team, event["user"], channel)
        where = Where(caller, channel, card_at=(channel, ts), client=client)
        if kind == emoji.VOTE:
            target = ChatMessage(channel, ts, event.get("item_user") or "", "", "")
            replies = await self.core.later(self.router.reaction, caller, kind, target, added=added)
            await self.deliver(where, replies)
            return
        message = await self._fetch_message(client, channel, ts)
        if message is None:
            await self.send_private(
                where,
                [
                    private(
                        "I can't read that message: invite me to the channel "
                        "(/invite @Lodestar) and react again.",
                        kind=Kind.ERROR,
                    )
                ],
            )
            return
        captured = await self._chat_message(client, team, channel, message, caller)
        replies = await self.core.later(self.router.reaction, caller, kind, captured, added=True)
        where.thread = message.get("thread_ts") or ts
        await self.deliver(where, replies)

    @staticmethod
    async def _fetch_message(
        client: AsyncWebClient, channel: str, ts: str
    ) -> dict[str, Any] | None:
        """The message at ``ts``: from the channel's history, else from its thread."""
        window = {"channel": channel, "latest": ts, "oldest": ts, "inclusive": True}
        try:
            history = await client.conversations_history(limit=1, **window)
            for message in history.get("messages") or []:
                if message.get("ts") == ts:
                    return message
            replies = await client.conversations_replies(ts=ts, limit=10, **window)
            for message in replies.get("messages") or []:
                if message.get("ts") == ts:
                    return message
        except SlackApiError as error:
            log.info("could not fetch %s/%s: %s", channel, ts, error.response.get("error"))
        return None

    async def on_vote_button(
        self,
        ack: Callable[..., Awaitable[Any]],
        body: dict[str, Any],
        action: dict[str, Any],
        context: Any,
    ) -> None:
        where = await self._where_of_action(body, context)

        def vote() -> list[Reply]:
            item = item_of_button(self.router, where.caller, where.card_at, action.get("value"))
            if isinstance(item, Reply):
                return [item]
            return self.router.vote_button(where.caller, item)

        replies = await self.core.now(vote)
        await ack()
        self.tasks.spawn(self.deliver(where, replies))

    async def on_card_button(
        self,
        ack: Callable[..., Awaitable[Any]],
        body: dict[str, Any],
        action: dict[str, Any],
        context: Any,
    ) -> None:
        where = await self._where_of_action(body, context)
        verb = "who" if action["action_id"] == render.WHO else "show"

        def look() -> list[Reply]:
            item = item_of_button(self.router, where.caller, where.card_at, action.get("value"))
            if isinstance(item, Reply):
                return [item]
            return self.router.command(where.caller, "feedback", f"{verb} #{item}")

        replies = await self.core.now(look)
        await ack()
        self.tasks.spawn(self.deliver(where, replies))

    async def on_open_form(
        self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any], context: Any
    ) -> None:
        """App Home's "Log feedback": the modal, or (trigger expired) the question in a DM."""
        await ack()
        self.tasks.spawn(self._open_form(body, context))

    async def _open_form(self, body: dict[str, Any], context: Any) -> None:
        where = await self._where_of_action(body, context)
        replies = await self.core.later(self.router.command, where.caller, "feedback", "")
        await self.deliver(where, replies)

    async def _where_of_action(self, body: dict[str, Any], context: Any) -> Where:
        channel = (body.get("channel") or {}).get("id")
        team = team_of(body) or ""
        caller = await self.caller(
            context.client, team, body["user"]["id"], channel, name=body["user"].get("username")
        )
        container = body.get("container") or {}
        card_at = None
        if container.get("message_ts") and not container.get("is_ephemeral"):
            card_at = (container.get("channel_id") or channel, container["message_ts"])
        return Where(
            caller,
            channel,
            card_at=card_at,
            client=context.client,
            respond=context.respond if body.get("response_url") else None,  # none in App Home
            trigger_id=body.get("trigger_id"),
        )

    async def on_form(
        self,
        ack: Callable[..., Awaitable[Any]],
        body: dict[str, Any],
        view: dict[str, Any],
        context: Any,
    ) -> None:
        trigger = body.get("trigger_id")
        if self.seen.repeat(f"trigger:{trigger}" if trigger else None):  # a replayed submit
            await ack()
            return
        meta = _metadata(view)
        values = view.get("state", {}).get("values", {})
        value = values.get(render.FORM_BLOCK, {}).get(render.FORM_INPUT, {}).get("value")
        text = render.unescape(value or "")
        channel = meta.get("channel") if isinstance(meta.get("channel"), str) else None
        team = team_of(body) or ""
        caller = await self.caller(
            context.client, team, body["user"]["id"], channel, name=body["user"].get("username")
        )
        kind = meta.get("kind") if isinstance(meta.get("kind"), str) else FEEDBACK_FORM.kind
        replies = await self.core.now(self.router.submit_form, caller, kind, text)
        errors = [r for r in replies if r.kind is Kind.ERROR]
        if errors:
            await ack(response_action="errors", errors={render.FORM_BLOCK: errors[0].text[:300]})
            return
        await ack()
        self.tasks.spawn(self.deliver(Where(caller, channel, client=context.client), replies))

    async def on_home(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        if event.get("tab", "home") != "home" or self.seen.repeat(f"event:{body.get('event_id')}"):
            return
        team = team_of(body) or ""
        self.tasks.spawn(self.publish_home(context.client, team, event["user"]))

    async def publish_home(self, client: AsyncWebClient, team: str, user: str) -> None:
        caller = await self.caller(client, team, user, None)
        view = home_view(await self.core.later(self.router.home, caller))
        await client.views_publish(user_id=user, view=view)


def _error(error: SlackApiError) -> str:
    return str(error.response.get("error") or error)


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    """A modal's private_metadata (ours: a JSON object), or {} when it is anything else."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


async def _acknowledge(ack: Callable[..., Awaitable[Any]]) -> None:
    await ack()


async def _no_options(ack: Callable[..., Awaitable[Any]]) -> None:
    await ack(options=[])


async def _ignore() -> None:
    """Events are acknowledged by Bolt itself."""


def build_slack_bot(
    lodestar: Lodestar,
    settings: SlackSettings,
    *,
    client: AsyncWebClient | None = None,
    core_runner: str | None = None,
) -> SlackBot:
    """The Bolt app and its listeners over ``lodestar``; tests pass a fake-pointed client."""
    return SlackBot(lodestar, settings, client=client, core_runner=core_runner)
