"""Scheduled posts on Slack through the outbox: the real slack_sdk client against the
local stand-in of Slack's Web API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from adapters.slack.messenger import SlackMessenger
from bot.app import Lodestar
from bot.clock import FixedClock
from bot.context import Caller
from bot.notify.dispatcher import DispatchReport
from bot.nsm.config import parse_config
from storage.models import OutboxMessage
from storage.uow import Database
from tests.slack_fake import FakeSlackWebAPI, fake_slack_fixture
from tests.test_nsm_service import CONFIG

fake = fake_slack_fixture("fake")
PM = Caller("slack", "T0001", "U0PM", "pm", channel="C0GENERAL", is_platform_admin=True)


def digest_due(database: Database, channel: str = "<#C0METRICS|metrics>") -> Lodestar:
    """A workspace whose 09:00 digest is due, with weeks of values to chart."""
    app = Lodestar.build(
        database, FixedClock(datetime(2026, 12, 1, 9, 5, tzinfo=UTC)), parse_config(CONFIG)
    )
    for n, week in enumerate(range(40, 53)):
        app.router.command(PM, "nsm", f"record wat {200 + n} 2025-W{week:02d}")
    app.router.command(PM, "nsm", f"digest {channel} 09:00 UTC")
    assert app.run_jobs().queued["digest"] == 1
    return app


def deliver(app: Lodestar, fake: FakeSlackWebAPI) -> DispatchReport:
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)

    async def client_for(_team: str) -> AsyncWebClient:
        return client

    messenger = SlackMessenger(client_for, upload_backoff=0)
    return asyncio.run(app.dispatcher({"slack": messenger}).run_once())


def crash_before_recording_sent(app: Lodestar) -> None:
    """As if the process that sent it died before its commit of "sent"."""
    with app.db.uow() as uow:
        uow.session.execute(
            update(OutboxMessage).values(
                state="sending", owner="gone:1:x", not_before=app.clock.now()
            )
        )
        uow.commit()


def outbox_row(app: Lodestar) -> OutboxMessage:
    with app.db.uow() as uow:
        return uow.session.scalars(select(OutboxMessage)).one()


def test_a_chart_upload_that_fails_once_is_tried_again_and_the_digest_posted_once(
    database: Database, fake: FakeSlackWebAPI
) -> None:
    app = digest_due(database)
    fake.fail_next("files.getUploadURLExternal", status=500)
    deliver(app, fake)
    digests = [c for c in fake.calls_to("chat.postMessage") if c.ok]
    assert len(digests) == 1 and "Daily digest" in str(digests[0].params.get("text"))
    assert [u.filename for u in fake.uploads] == ["north-star.png"]
    row = outbox_row(app)
    assert (row.state, row.attempts, row.last_error) == ("sent", 1, None)


def test_a_chart_slack_never_takes_leaves_one_digest_and_says_why(
    database: Database, fake: FakeSlackWebAPI
) -> None:
    app = digest_due(database)
    fake.fail_for("files.getUploadURLExternal", lambda _params: True, error="missing_scope")
    deliver(app, fake)
    app.clock.advance(hours=1)  # later ticks leave it be
    deliver(app, fake)
    assert len([c for c in fake.calls_to("chat.postMessage") if c.ok]) == 1
    assert fake.uploads == []
    row = outbox_row(app)
    assert row.state == "sent"
    assert row.last_error == "incomplete: the file was not attached: missing_scope"


@pytest.mark.parametrize("channel", ["<#C0METRICS|metrics>", "#metrics"])
def test_a_digest_in_doubt_after_a_crash_is_found_in_its_channel_by_id_or_by_name(
    database: Database, fake: FakeSlackWebAPI, channel: str
) -> None:
    """The post reached Slack, then the process died before recording it: the next
    dispatcher finds it in the channel's history (a channel set by name is looked up
    first: history takes ids only) and does not post it again."""
    app = digest_due(database, channel)
    assert deliver(app, fake).sent == 1
    crash_before_recording_sent(app)
    again = deliver(app, fake)
    assert (again.verified, again.sent) == (1, 0)
    assert len([c for c in fake.calls_to("chat.postMessage") if c.ok]) == 1
    assert outbox_row(app).state == "sent"


def test_a_notice_in_doubt_is_found_behind_many_later_messages(
    database: Database, fake: FakeSlackWebAPI
) -> None:
    """History is read page after page: in a busy channel the digest is found behind
    250 later messages, not posted again."""
    app = digest_due(database)
    assert deliver(app, fake).sent == 1
    client = WebClient(token="xoxb-test", base_url=fake.api_url)
    for n in range(250):
        client.chat_postMessage(channel="C0METRICS", text=f"chatter {n}")
    crash_before_recording_sent(app)
    again = deliver(app, fake)
    assert (again.verified, again.sent) == (1, 0)
