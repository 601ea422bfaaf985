"""Self-tests of the Slack stand-ins, driven by the real slack_sdk and slack_bolt clients."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.slack_fake import (
    APP_TOKEN,
    FILE_UPLOAD,
    RESPONSE_URL,
    FakeSlackWebAPI,
    FakeSocketMode,
    fake_slack_fixture,
    payloads,
    signing,
)

SECRET = "test-signing-secret"

fake = fake_slack_fixture("fake")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- signing ----------------------------------------------------------------------------------


def test_signatures_agree_with_slack_sdk_verifier() -> None:
    verifier = SignatureVerifier(SECRET)
    body = payloads.slash_command(text="hello").body

    good = signing.signed_headers(body, SECRET)
    forged = signing.forged_headers(body)
    stale = signing.stale_headers(body, SECRET)

    assert verifier.is_valid(body, good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"])
    assert not verifier.is_valid(
        body, forged["X-Slack-Request-Timestamp"], forged["X-Slack-Signature"]
    )
    assert not verifier.is_valid(
        body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"]
    )


# --- Web API, sync client -----------------------------------------------------------------------


def test_fixture_exports_api_url(fake: FakeSlackWebAPI) -> None:
    assert os.environ["SLACK_API_URL"] == fake.api_url
    assert fake.api_url.startswith("http://127.0.0.1:") and fake.api_url.endswith("/api/")


def test_post_update_delete_and_recording(fake: FakeSlackWebAPI) -> None:
    client = fake.client()
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]

    first = client.chat_postMessage(channel="C1", text="hi", blocks=blocks)
    second = client.chat_postMessage(channel="C1", text="again")
    dm = client.chat_postMessage(channel="U0ALICE", text="psst")

    assert first["ts"] < second["ts"] and first["message"]["blocks"] == blocks
    assert dm["channel"] == "D0ALICE"
    call = fake.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == blocks  # JSON string on the wire, decoded when recorded
    assert call.token == "xoxb-0000-lodestar-test" and call.ok

    client.chat_update(channel="C1", ts=first["ts"], text="edited")
    assert fake.messages("C1")[0]["text"] == "edited"
    client.chat_delete(channel="C1", ts=second["ts"])
    assert [m["ts"] for m in fake.messages("C1")] == [first["ts"]]
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.chat_delete(channel="C1", ts=second["ts"])

    link = client.chat_getPermalink(channel="C1", message_ts="1700000000.000100")
    assert link["permalink"] == "https://example.slack.com/archives/C1/p1700000000000100"
    assert client.chat_postEphemeral(channel="C1", user="U0ALICE", text="x")["message_ts"]

    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("team.profile.get")
    assert fake.last("team.profile.get").response == {"ok": False, "error": "unknown_method"}


def test_wait_for_blocks_until_calls_arrive(fake: FakeSlackWebAPI) -> None:
    worker = threading.Thread(target=lambda: fake.client().chat_postMessage(channel="C", text="x"))
    worker.start()
    (call,) = fake.wait_for("chat.postMessage")
    worker.join()
    assert call.params["text"] == "x"
    with pytest.raises(AssertionError, match=r"expected 2 call\(s\) to chat.postMessage"):
        fake.wait_for("chat.postMessage", count=2, timeout=0.05)


def test_history_and_replies_respect_bounds(fake: FakeSlackWebAPI) -> None:
    for i in range(1, 6):
        fake.add_message("C1", f"1700000100.00000{i}", "U0ALICE", f"m{i}")
    fake.add_message("C1", "1700000100.000007", "U0BOB", "reply", thread_ts="1700000100.000002")
    client = fake.client()

    history = client.conversations_history(channel="C1")
    assert [m["text"] for m in history["messages"]] == ["m5", "m4", "m3", "m2", "m1"]
    assert history["messages"][3]["reply_count"] == 1

    window = client.conversations_history(
        channel="C1", oldest="1700000100.000002", latest="1700000100.000004"
    )
    assert [m["text"] for m in window["messages"]] == ["m3"]
    window = client.conversations_history(
        channel="C1", oldest="1700000100.000002", latest="1700000100.000004", inclusive=True
    )
    assert [m["text"] for m in window["messages"]] == ["m4", "m3", "m2"]

    page1 = client.conversations_history(channel="C1", limit=2)
    page2 = client.conversations_history(
        channel="C1", limit=2, cursor=page1["response_metadata"]["next_cursor"]
    )
    assert page1["has_more"] and [m["text"] for m in page2["messages"]] == ["m3", "m2"]

    replies = client.conversations_replies(channel="C1", ts="1700000100.000002")
    assert [m["text"] for m in replies["messages"]] == ["m2", "reply"]
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.conversations_history(channel="C404")


def test_users_conversations_views_reactions(fake: FakeSlackWebAPI) -> None:
    fake.add_user("U0ADMIN", real_name="Ada Admin", display_name="ada", is_admin=True)
    fake.add_channel("C1", "feedback")
    msg = fake.add_message("C1", text="great idea")
    client = fake.client()

    user = client.users_info(user="U0ADMIN")["user"]
    assert user["is_admin"] and user["profile"]["display_name"] == "ada"
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.users_info(user="U404")
    assert client.conversations_info(channel="C1")["channel"]["name"] == "feedback"
    assert client.conversations_open(users="U0ADMIN")["channel"]["id"] == "D0ADMIN"

    client.reactions_add(channel="C1", timestamp=msg["ts"], name="eyes")
    assert fake.messages("C1")[0]["reactions"] == [
        {"name": "eyes", "users": ["U0LODEBOT"], "count": 1}
    ]
    client.reactions_remove(channel="C1", timestamp=msg["ts"], name="eyes")
    assert "reactions" not in fake.messages("C1")[0] or not fake.messages("C1")[0]["reactions"]

    modal = {"type": "modal", "callback_id": "idea", "title": {"type": "plain_text", "text": "t"}}
    opened = client.views_open(trigger_id="1.2.3", view=modal)["view"]
    updated = client.views_update(view_id=opened["id"], view={**modal, "blocks": []})["view"]
    home1 = client.views_publish(user_id="U0ADMIN", view={"type": "home", "blocks": []})["view"]
    home2 = client.views_publish(user_id="U0ADMIN", view={"type": "home", "blocks": []})["view"]
    assert updated["id"] == opened["id"] and updated["callback_id"] == "idea"
    assert home1["id"] == home2["id"] and home1["type"] == "home"
    assert fake.last("views.open").params["view"] == modal


# --- Web API, async client, failures ---------------------------------------------------------


@pytest.mark.anyio
async def test_429_is_retried_by_rate_limit_handler(
    fake: FakeSlackWebAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # slack_sdk waits Retry-After + random() seconds; drop the jitter to keep the test fast
    monkeypatch.setattr(builtin_async_handlers.random, "random", lambda: 0.0)
    client = fake.async_client(retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    fake.fail_next("chat.postMessage", status=429, retry_after=0)

    resp = await client.chat_postMessage(channel="C1", text="hi")

    attempts = fake.calls_to("chat.postMessage")
    assert resp["ok"] and [c.status for c in attempts] == [429, 200]
    assert attempts[0].response == {"ok": False, "error": "ratelimited"}


@pytest.mark.anyio
async def test_error_injection(fake: FakeSlackWebAPI) -> None:
    client = fake.async_client()
    fake.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.chat_postMessage(channel="C1", text="hi")
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"]

    undo = fake.fail_for(
        "chat.postMessage", lambda params: params["channel"] == "U0BOB", error="cannot_dm_bot"
    )
    results = []
    for user in ("U0ALICE", "U0BOB", "U0CAROL"):
        try:
            results.append((await client.chat_postMessage(channel=user, text="hi"))["channel"])
        except SlackApiError as e:
            results.append(e.response["error"])
    assert results == ["D0ALICE", "cannot_dm_bot", "D0CAROL"]
    undo()
    assert (await client.chat_postMessage(channel="U0BOB", text="hi"))["ok"]


def test_block_kit_limits_are_refused_as_slack_refuses_them(fake: FakeSlackWebAPI) -> None:
    client = fake.client()
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "😀" * 1_501}}
    with pytest.raises(SlackApiError, match="invalid_blocks"):  # 3,002 UTF-16 units
        client.chat_postMessage(channel="C1", text="hi", blocks=[section])
    with pytest.raises(SlackApiError, match="msg_too_long"):
        client.chat_postMessage(channel="C1", text="x" * 40_001)
    home = [{"type": "divider"}] * 101
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": home})
    section["text"]["text"] = "😀" * 1_500
    assert client.chat_postMessage(channel="C1", text="hi", blocks=[section])["ok"]
    assert client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": home[:100]})


@pytest.mark.anyio
async def test_files_upload_v2_round_trip(fake: FakeSlackWebAPI) -> None:
    client = fake.async_client()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))

    resp = await client.files_upload_v2(
        channel="C1", filename="nsm.png", content=png, title="NSM", initial_comment="weekly"
    )

    (upload,) = fake.uploads
    assert resp["file"]["id"] == upload.file_id
    assert (upload.filename, upload.title, upload.data) == ("nsm.png", "NSM", png)
    assert (upload.channel_id, upload.initial_comment, upload.completed) == ("C1", "weekly", True)
    assert [c.method for c in fake.calls] == [
        "files.getUploadURLExternal",
        FILE_UPLOAD,
        "files.completeUploadExternal",
    ]


# --- Bolt over HTTP (Starlette adapter) -------------------------------------------------------


def _starlette(app: AsyncApp) -> Starlette:
    handler = AsyncSlackRequestHandler(app)

    async def endpoint(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])


def _text(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


@pytest.fixture
async def http(fake: FakeSlackWebAPI) -> AsyncIterator[httpx.AsyncClient]:
    app = AsyncApp(signing_secret=SECRET, client=fake.async_client())

    @app.command("/lodestar")
    async def lodestar(ack, respond, say, command) -> None:  # type: ignore[no-untyped-def]
        await ack()
        await respond(f"on it: {command['text']}")
        await say("done")

    @app.shortcut("save_feedback")
    async def save_feedback(ack, shortcut, client) -> None:  # type: ignore[no-untyped-def]
        await ack()
        modal = {"type": "modal", "callback_id": "idea", "title": _text("Save"), "blocks": []}
        await client.views_open(trigger_id=shortcut["trigger_id"], view=modal)

    @app.action("vote")
    async def vote(ack, action, respond) -> None:  # type: ignore[no-untyped-def]
        await ack()
        await respond(f"voted {action['value']}", replace_original=False)

    @app.view("idea")
    async def idea(ack, view) -> None:  # type: ignore[no-untyped-def]
        title = view["state"]["values"]["title"]["input"]["value"]
        await ack(response_action="errors", errors={"title": f"{title}? too short"})

    @app.event("app_home_opened")
    async def home(event, client) -> None:  # type: ignore[no-untyped-def]
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    @app.event("reaction_added")
    async def reacted(event, client) -> None:  # type: ignore[no-untyped-def]
        await client.reactions_add(
            channel=event["item"]["channel"], timestamp=event["item"]["ts"], name="eyes"
        )

    transport = httpx.ASGITransport(app=_starlette(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://slack.test") as client:
        yield client


@pytest.mark.anyio
async def test_bolt_http_slash_command(fake: FakeSlackWebAPI, http: httpx.AsyncClient) -> None:
    req = payloads.slash_command("/lodestar", "add idea", response_url=fake.response_url())

    resp = await http.post("/slack/events", content=req.body, headers=req.headers(SECRET))

    assert resp.status_code == 200 and resp.text == ""  # acked before the listener finishes
    (responded,) = await fake.wait_for_async(RESPONSE_URL)
    (said,) = await fake.wait_for_async("chat.postMessage")
    assert responded.params["text"] == "on it: add idea"
    assert said.params == {"channel": payloads.CHANNEL_ID, "text": "done", "team_id": "T0LODE"}
    assert fake.calls_to("auth.test")  # Bolt's single-workspace authorization


@pytest.mark.anyio
async def test_bolt_http_rejects_bad_signatures(
    fake: FakeSlackWebAPI, http: httpx.AsyncClient
) -> None:
    req = payloads.slash_command("/lodestar", "x", response_url=fake.response_url())
    forged = {"Content-Type": req.content_type, **signing.forged_headers(req.body)}
    stale = {"Content-Type": req.content_type, **signing.stale_headers(req.body, SECRET)}

    assert (await http.post("/slack/events", content=req.body, headers=forged)).status_code == 401
    assert (await http.post("/slack/events", content=req.body, headers=stale)).status_code == 401
    assert not fake.calls_to(RESPONSE_URL)


@pytest.mark.anyio
async def test_bolt_http_events(fake: FakeSlackWebAPI, http: httpx.AsyncClient) -> None:
    challenge = payloads.url_verification("abc")
    resp = await http.post(
        "/slack/events", content=challenge.body, headers=challenge.headers(SECRET)
    )
    assert resp.json() == {"challenge": "abc"}

    msg = fake.add_message("C1", text="ship dark mode")
    event = payloads.reaction_added("bulb", channel="C1", ts=msg["ts"])
    resp = await http.post(
        "/slack/events", content=event.body, headers=event.headers(SECRET, retry_num=1)
    )
    assert resp.status_code == 200
    (call,) = await fake.wait_for_async("reactions.add")
    # Bolt's per-request client adds team_id to every call it makes
    assert call.params == {
        "channel": "C1",
        "timestamp": msg["ts"],
        "name": "eyes",
        "team_id": "T0LODE",
    }
    assert fake.messages("C1")[0]["reactions"][0]["name"] == "eyes"


@pytest.mark.anyio
async def test_bolt_http_interactivity(fake: FakeSlackWebAPI, http: httpx.AsyncClient) -> None:
    async def send(req: payloads.SlackRequest) -> httpx.Response:
        resp = await http.post("/slack/events", content=req.body, headers=req.headers(SECRET))
        assert resp.status_code == 200, resp.text
        return resp

    await send(payloads.message_action("save_feedback", message_ts="1700000000.000100"))
    (opened,) = await fake.wait_for_async("views.open")
    assert opened.params["view"]["callback_id"] == "idea"

    await send(payloads.block_actions("vote", "up", response_url=fake.response_url("vote")))
    (responded,) = await fake.wait_for_async(RESPONSE_URL)
    assert responded.path == "/response/vote" and responded.params["text"] == "voted up"

    values = payloads.text_inputs({"title": {"input": "Dark"}})
    resp = await send(payloads.view_submission("idea", values, private_metadata="C1"))
    assert resp.json() == {"response_action": "errors", "errors": {"title": "Dark? too short"}}

    await send(payloads.app_home_opened(user="U0ALICE"))
    (published,) = await fake.wait_for_async("views.publish")
    assert published.params["user_id"] == "U0ALICE"


# --- Bolt over Socket Mode --------------------------------------------------------------------


@pytest.fixture
def socket_mode(fake: FakeSlackWebAPI) -> Iterator[FakeSocketMode]:
    with FakeSocketMode(fake) as sm:
        yield sm


@pytest.mark.anyio
async def test_bolt_socket_mode_slash_command(
    fake: FakeSlackWebAPI, socket_mode: FakeSocketMode
) -> None:
    app = AsyncApp(client=fake.async_client())

    @app.command("/lodestar")
    async def lodestar(ack, respond) -> None:  # type: ignore[no-untyped-def]
        await ack("got it")
        await respond("later")

    @app.event("app_mention")
    async def mentioned(say) -> None:  # type: ignore[no-untyped-def]
        await say("hi!")

    handler = AsyncSocketModeHandler(app, APP_TOKEN)
    await handler.connect_async()
    try:
        await socket_mode.wait_connected_async()
        assert fake.last("apps.connections.open").token == APP_TOKEN

        envelope_id = socket_mode.push(
            payloads.slash_command("/lodestar", response_url=fake.response_url())
        )
        ack = await socket_mode.wait_for_ack_async(envelope_id)
        assert ack.payload == {"text": "got it"}
        (responded,) = await fake.wait_for_async(RESPONSE_URL)
        assert responded.params["text"] == "later"

        socket_mode.disconnect()  # Slack asks the client to reconnect; slack_sdk obeys
        await socket_mode.wait_connected_async(count=2)
        event_id = socket_mode.push(payloads.app_mention("<@U0LODEBOT> hi"))
        assert (await socket_mode.wait_for_ack_async(event_id)).payload is None
        (said,) = await fake.wait_for_async("chat.postMessage")
        assert said.params["text"] == "hi!"
    finally:
        await handler.close_async()
