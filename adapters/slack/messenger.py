"""Delivers outbox notices on Slack: DMs, thread replies, announcements, files.

Any Web API error is raised, so the dispatcher retries that one notice later
and carries on with the rest; an error no retry can mend (a deactivated account,
a bot, an archived channel) is raised as ``Undeliverable``, so it is given up at
once. 429s are first retried in place by slack_sdk's rate-limit handler (after
Retry-After) on the client this is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from adapters.slack import render
from adapters.slack.settings import SlackSettings
from bot.notify.ports import ChannelPost, PartlyDelivered, Recipient, Undeliverable
from bot.replies import Reply

PLATFORM = "slack"
_CHANNEL_REF = re.compile(r"<#([A-Z0-9]+)(?:\|[^>]*)?>")

ClientFor = Callable[[str], Awaitable[AsyncWebClient]]


def channel_id(channel: str) -> str:
    """``<#C123|name>`` → ``C123``; ``name`` → ``#name``; ids pass through."""
    match = _CHANNEL_REF.fullmatch(channel.strip())
    if match:
        return match.group(1)
    channel = channel.strip()
    if re.fullmatch(r"[CGD][A-Z0-9]{6,}", channel):
        return channel
    return "#" + channel.lstrip("#")


class SlackMessenger:
    platform = PLATFORM

    def __init__(self, client_for: ClientFor, upload_backoff: float = 1.0) -> None:
        self.client_for = client_for
        self.upload_backoff = upload_backoff

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        client = await self.client_for(to.workspace)
        with _permanent_errors():
            opened = await client.conversations_open(users=to.user)
            await self._post(client, opened["channel"]["id"], reply, key=to.key)

    async def delivered(self, to: Recipient | ChannelPost, reply: Reply) -> bool:
        """Whether a notice already reached Slack: every notice carries its key in the
        message's metadata, so the conversation's recent history says."""
        if not to.key:
            return False
        client = await self.client_for(to.workspace)
        if isinstance(to, Recipient):
            opened = await client.conversations_open(users=to.user)
            channel: str | None = opened["channel"]["id"]
        else:
            channel = await _id_of(client, channel_id(to.channel))
            if channel is None:
                return False  # no channel of that name: nothing there to repeat
        # Page after page (newest first in a channel, a whole thread from its start): a
        # busy channel or a long thread hides nothing recent.
        window: dict[str, Any] = {"channel": channel, "limit": 200, "include_all_metadata": True}
        thread = to.thread if isinstance(to, ChannelPost) else None
        first = await (
            client.conversations_replies(ts=thread, **window)
            if thread
            else client.conversations_history(**window)
        )
        read = 0
        async for page in first:  # slack_sdk follows the cursor
            if any(
                ((m.get("metadata") or {}).get("event_payload") or {}).get("key") == to.key
                for m in page.get("messages") or []
            ):
                return True
            read += 1
            if read == HISTORY_PAGES:
                break
        return False

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> tuple[str, str] | None:
        client = await self.client_for(to.workspace)
        with _permanent_errors():
            if to.edit is not None and reply.card is not None:  # redraw a card
                body = render.card_message(reply.card, reply.card.headline or None)
                await client.chat_update(channel=channel_id(to.channel), ts=to.edit, **body)
                return None
            return await self._post(
                client, channel_id(to.channel), reply, thread=to.thread, key=to.key
            )

    async def _post(
        self,
        client: AsyncWebClient,
        channel: str,
        reply: Reply,
        thread: str | None = None,
        key: str = "",
    ) -> tuple[str, str]:
        body: dict[str, Any] = render.message([reply])
        if reply.card is not None and reply.posts_card:
            body = render.card_message(reply.card, reply.text)
        if key:  # so a notice in doubt after a crash can be found (``delivered``)
            body["metadata"] = {"event_type": NOTICE_EVENT, "event_payload": {"key": key}}
        posted = await client.chat_postMessage(
            channel=channel, thread_ts=thread, unfurl_links=False, **body
        )
        where = posted["channel"], posted["ts"]
        if reply.attachments:
            await self._attach(client, where, reply, thread)
        return where

    async def _attach(
        self, client: AsyncWebClient, where: tuple[str, str], reply: Reply, thread: str | None
    ) -> None:
        """Upload the message's files beside it, a few tries: the text is out already,
        so a failure here must never post it again (``PartlyDelivered``)."""
        for attempt in range(UPLOAD_TRIES):
            try:
                await upload(client, where[0], reply, thread=thread)
                return
            except SlackApiError as error:
                reason = str(error.response.get("error") or error.response.status_code)
                if reason in NEVER_UPLOADS or attempt == UPLOAD_TRIES - 1:
                    raise PartlyDelivered(f"the file was not attached: {reason}", where) from error
            except Exception as error:  # a connection lost mid-upload
                if attempt == UPLOAD_TRIES - 1:
                    raise PartlyDelivered(f"the file was not attached: {error}", where) from error
            await asyncio.sleep(self.upload_backoff * 2**attempt)


async def _id_of(client: AsyncWebClient, channel: str) -> str | None:
    """A channel's id: posts take ``#name``, but reading history takes the id."""
    if not channel.startswith("#"):
        return channel
    listed = await client.conversations_list(
        types="public_channel,private_channel", exclude_archived=True, limit=1000
    )
    async for page in listed:  # slack_sdk follows the cursor
        for found in page.get("channels") or []:
            if found.get("name") == channel[1:]:
                return str(found["id"])
    return None


#: Pages of history read to find a notice in doubt: 200 messages a page.
HISTORY_PAGES = 25

#: Tries at a message's files, and the errors no try mends.
UPLOAD_TRIES = 3
NEVER_UPLOADS = frozenset({"missing_scope", "not_allowed_token_type", "file_uploads_disabled"})

#: The metadata event type of Lodestar's notices.
NOTICE_EVENT = "lodestar_notice"


def standalone_messenger(settings: SlackSettings, engine: Engine) -> SlackMessenger:
    """A messenger for a process that serves no Slack requests (the scheduler): the bot
    token, or with OAuth each workspace's installed token."""
    from adapters.slack.app import make_client

    client = make_client(settings, None if settings.oauth else settings.bot_token)
    if not settings.oauth:

        async def token_client(_team: str) -> AsyncWebClient:
            return client

        return SlackMessenger(token_client)
    from adapters.slack.oauth import oauth_settings

    store = oauth_settings(settings, engine).installation_store

    async def installed(team: str) -> AsyncWebClient:
        bot = await store.async_find_bot(enterprise_id=None, team_id=team)
        if bot is None:
            raise Undeliverable(f"Lodestar is not installed in Slack workspace {team}")
        return AsyncWebClient(
            token=bot.bot_token, base_url=client.base_url, retry_handlers=client.retry_handlers
        )

    return SlackMessenger(installed)


#: Web API errors that say a notice can never be delivered.
PERMANENT = frozenset(
    {
        "cannot_dm_bot",
        "user_not_found",
        "account_inactive",
        "user_disabled",
        "channel_not_found",
        "is_archived",
    }
)


@contextlib.contextmanager
def _permanent_errors() -> Iterator[None]:
    """Raise the Web API's permanent errors as ``Undeliverable``."""
    try:
        yield
    except SlackApiError as error:
        reason = error.response.get("error")
        if reason in PERMANENT:
            raise Undeliverable(reason) from error
        raise


async def upload(
    client: AsyncWebClient, channel: str, reply: Reply, thread: str | None = None
) -> None:
    """Charts and CSVs through files.getUploadURLExternal + completeUploadExternal."""
    await client.files_upload_v2(
        channel=channel,
        thread_ts=thread,
        file_uploads=[
            {"content": a.content, "filename": a.filename, "title": a.title or a.filename}
            for a in reply.attachments
        ],
    )
