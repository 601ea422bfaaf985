"""Delivers outbox notices on Slack: DMs, thread replies, announcements, files.

Any Web API error is raised, so the dispatcher retries that one notice later
and carries on with the rest; an error no retry can mend (a deactivated account,
a bot, an archived channel) is raised as ``Undeliverable``, so it is given up at
once. 429s are first retried in place by slack_sdk's rate-limit handler (after
Retry-After) on the client this is given.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from bot.notify.ports import ChannelPost, Recipient, Undeliverable
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

    def __init__(self, client_for: ClientFor) -> None:
        self.client_for = client_for

    async def send_direct(self, to: Recipient, reply: Reply) -> None:
        client = await self.client_for(to.workspace)
        with _permanent_errors():
            opened = await client.conversations_open(users=to.user)
            await self._post(client, opened["channel"]["id"], reply)

    async def send_to_channel(self, to: ChannelPost, reply: Reply) -> tuple[str, str] | None:
        client = await self.client_for(to.workspace)
        with _permanent_errors():
            if to.edit is not None and reply.card is not None:  # redraw a card
                body = render.card_message(reply.card, reply.card.headline or None)
                await client.chat_update(channel=channel_id(to.channel), ts=to.edit, **body)
                return None
            return await self._post(client, channel_id(to.channel), reply, thread=to.thread)

    async def _post(
        self, client: AsyncWebClient, channel: str, reply: Reply, thread: str | None = None
    ) -> tuple[str, str]:
        body: dict[str, Any] = render.message([reply])
        if reply.card is not None and reply.posts_card:
            body = render.card_message(reply.card, reply.text)
        posted = await client.chat_postMessage(
            channel=channel, thread_ts=thread, unfurl_links=False, **body
        )
        if reply.attachments:
            await upload(client, posted["channel"], reply, thread=thread)
        return posted["channel"], posted["ts"]


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
