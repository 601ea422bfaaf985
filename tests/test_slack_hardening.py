"""The Slack adapter under attack and under Slack's own odd behaviour: one test (or more)
per defect found attacking a running ``serve slack``, each through the real Bolt app and
slack_sdk against the Web API stand-in, with correctly signed requests where Slack would
sign them. Storage-touching tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from adapters.slack import render
from bot.app import Lodestar
from bot.context import Caller
from storage.models import OutboxMessage
from tests.slack_fake import (
    RESPONSE_URL,
    FakeSlackWebAPI,
    block_kit,
    fake_slack_fixture,
    payloads,
    signing,
)
from tests.slack_support import (
    ADA,
    ALICE,
    BOB,
    CAROL,
    GENERAL,
    SECRET,
    Slack,
    caller,
    open_installed_slack,
    open_slack,
    seed_people,
)

fake = fake_slack_fixture("fake")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def slack(app: Lodestar, fake: FakeSlackWebAPI) -> AsyncIterator[Slack]:
    seed_people(fake)
    async for s in open_slack(app, fake):
        yield s


# -- 4. bad requests are refused before Bolt parses them; bodies are never logged ------------

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
A_COMMAND = urlencode({"command": "/feedback", "text": "hi", "team_id": payloads.TEAM_ID})
#: Bodies that are not what Bolt expects, as an outsider (or a broken proxy) sends them.
MALFORMED = [
    pytest.param(FORM, b"payload=%7Bnot+json", id="payload-not-json"),
    pytest.param(FORM, b"payload=%5B1%5D", id="payload-a-list"),
    pytest.param(JSON, b"{oops", id="json-broken"),
    pytest.param(FORM, b"text=\xff\xfe caf\xe9", id="not-utf8"),
    pytest.param(JSON, b"[1,2]", id="json-a-list"),
    pytest.param(JSON, A_COMMAND.encode(), id="json-type-on-a-form-body"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("content_type", "body"), MALFORMED)
async def test_malformed_bodies_get_401_unsigned_and_400_signed_never_500(
    slack: Slack, content_type: str, body: bytes
) -> None:
    unsigned = await slack.http.post(
        "/slack/events", content=body, headers={"Content-Type": content_type}
    )
    signed = await slack.http.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": content_type, **signing.signed_headers(body, SECRET)},
    )

    assert (unsigned.status_code, signed.status_code) == (401, 400)
    assert slack.fake.calls == []
    assert slack.lodestar.board.top(caller(), 10) == []


@pytest.mark.anyio
async def test_a_timestamp_that_is_not_a_number_gets_401(slack: Slack) -> None:
    req = payloads.slash_command("/feedback", "sneaky", response_url=slack.fake.response_url())
    headers = req.headers(SECRET)
    headers[signing.TIMESTAMP_HEADER] = "abc"

    resp = await slack.http.post("/slack/events", content=req.body, headers=headers)

    assert resp.status_code == 401
    assert slack.lodestar.board.top(caller(), 10) == []


@pytest.mark.anyio
async def test_a_huge_body_is_refused_unread_and_no_body_reaches_the_log(
    slack: Slack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    huge = b"payload=" + b"A" * (5 * 1024 * 1024)
    marked = payloads.slash_command("/feedback", "MARKER-7f3a in an unsigned body")

    too_big = await slack.http.post("/slack/events", content=huge, headers={"Content-Type": FORM})
    unsigned = await slack.http.post(
        "/slack/events", content=marked.body, headers={"Content-Type": FORM}
    )

    assert too_big.status_code == 413
    assert unsigned.status_code == 401
    assert "MARKER-7f3a" not in caplog.text
    assert max((len(r.getMessage()) for r in caplog.records), default=0) < 2_000


@pytest.mark.anyio
async def test_feedback_that_mentions_the_word_payload_is_logged(slack: Slack) -> None:
    """Bolt takes any form body containing "payload" for an interactive payload."""
    resp = await slack.command("webhook payload signing")

    assert "Logged as #1" in json.loads(resp.text)["text"]
    assert slack.lodestar.board.show(caller(), 1).text == "webhook payload signing"


@pytest.mark.anyio
async def test_bolt_itself_never_logs_a_body(
    slack: Slack, caplog: pytest.LogCaptureFixture
) -> None:
    """Behind the front door too: Bolt logs a badly signed body whole, at INFO."""
    from slack_bolt.request.async_request import AsyncBoltRequest

    caplog.set_level(logging.DEBUG, logger="slack_bolt")
    caplog.set_level(logging.INFO)
    req = payloads.slash_command("/feedback", "MARKER-7f3a")
    unsigned = AsyncBoltRequest(body=req.body, headers={"content-type": FORM})

    resp = await slack.bot.app.async_dispatch(unsigned)

    assert resp.status == 401
    assert "Invalid request signature" in caplog.text
    assert "MARKER-7f3a" not in caplog.text


# -- 3. a replayed modal submission logs once ---------------------------------------------------


def _submission(text: str, **kwargs: object) -> payloads.SlackRequest:
    values = payloads.text_inputs({render.FORM_BLOCK: {render.FORM_INPUT: text}})
    meta = json.dumps({"kind": "feedback", "channel": GENERAL})
    kwargs.setdefault("private_metadata", meta)
    return payloads.view_submission(render.FORM_CALLBACK, values, **kwargs)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_replayed_modal_submission_logs_once(slack: Slack) -> None:
    submit = _submission("Offline mode")

    first = await slack.send(submit)
    again = await slack.send(submit)

    assert first.status_code == again.status_code == 200
    assert [i.text for i in slack.lodestar.board.top(caller(), 10)] == ["Offline mode"]
    assert len(slack.posted(GENERAL)) == 1


# -- 9. odd interactive payloads: one private sentence or a quiet ack, never a 500 ----------


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["abc", "12345678901234567890", "-3", ""])
@pytest.mark.parametrize("action", [render.VOTE, render.WHO, render.SHOW])
async def test_card_buttons_with_odd_values_answer_one_private_sentence(
    slack: Slack, action: str, value: str
) -> None:
    await slack.command("dark mode")
    click = payloads.block_actions(
        action, value, user_id=BOB, response_url=slack.fake.response_url("odd")
    )

    resp = await slack.send(click)

    assert resp.status_code == 200
    (answer,) = [c.params for c in slack.fake.calls_to(RESPONSE_URL) if c.path.endswith("odd")]
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == "That button does not point at an item of this board."
    assert slack.lodestar.board.show(caller(), 1).demand == 1


@pytest.mark.anyio
@pytest.mark.parametrize("metadata", ["{nope", "[1]", '"a string"', '{"channel": 7}'])
async def test_a_modal_with_odd_private_metadata_still_logs(slack: Slack, metadata: str) -> None:
    resp = await slack.send(_submission("Offline mode", private_metadata=metadata))

    assert resp.status_code == 200 and resp.text == ""
    assert [i.text for i in slack.lodestar.board.top(caller(), 10)] == ["Offline mode"]


@pytest.mark.anyio
async def test_app_home_log_feedback_with_an_expired_trigger_asks_in_a_dm(slack: Slack) -> None:
    slack.fake.fail_next("views.open", error="expired_trigger_id")

    resp = await slack.send(
        payloads.block_actions(render.OPEN_FORM, block_id="home", home_tab=True)
    )

    assert resp.status_code == 200
    (dm,) = slack.posted("D0ALICE")
    assert dm["text"].startswith("What's your feedback? Type it after /feedback")


def _options_request(action_id: str) -> payloads.SlackRequest:
    """An external select asking for its options (a ``block_suggestion``)."""
    data = {
        "type": "block_suggestion",
        "action_id": action_id,
        "block_id": "b",
        "value": "da",
        "team": {"id": payloads.TEAM_ID},
        "user": {"id": BOB, "team_id": payloads.TEAM_ID},
        "api_app_id": payloads.API_APP_ID,
    }
    body = urlencode({"payload": json.dumps(data)})
    return payloads.SlackRequest(body, FORM, data, "interactive")


@pytest.mark.anyio
async def test_unknown_actions_callbacks_events_and_commands_are_acknowledged(
    slack: Slack,
) -> None:
    unknown = [
        payloads.block_actions("someone_elses_button", "1"),
        payloads.view_submission("someone_elses_modal", {}),
        payloads.global_shortcut("someone_elses_shortcut"),
        payloads.message_action("someone_elses_shortcut", message_ts=payloads.make_ts()),
        payloads.event_callback({"type": "member_joined_channel", "user": BOB}),
        payloads.message("hello there"),
        _options_request("someone_elses_select"),
    ]
    for req in unknown:
        resp = await slack.send(req)
        assert resp.status_code == 200, req.data
    command = await slack.send(
        payloads.slash_command("/lodestar", "hi", response_url=slack.fake.response_url())
    )

    assert command.status_code == 200
    assert json.loads(command.text)["text"] == "I don't know /lodestar; try /feedback help."
    assert slack.lodestar.board.top(caller(), 10) == []


# -- 6. Slack's entities are read once on the way in and written once on the way out --------


@pytest.mark.anyio
async def test_text_slack_escaped_is_stored_plain_and_escaped_once(slack: Slack) -> None:
    """Slack sends ``&``, ``<`` and ``>`` typed by a person as ``&amp;``, ``&lt;``, ``&gt;``."""
    await slack.command("R&amp;D wants &lt;3 charts &gt; tables")
    msg = slack.fake.add_message(GENERAL, user=BOB, text="Q&amp;A mode")
    shortcut = payloads.message_action(
        "log_feedback",
        message_ts=msg["ts"],
        message_text=msg["text"],
        message_user=BOB,
        user_id=CAROL,
        response_url=slack.fake.response_url(),
    )
    await slack.send(shortcut)
    await slack.send(_submission("Tom &amp; Jerry"))

    texts = [slack.lodestar.board.show(caller(), n).text for n in (1, 2, 3)]
    assert texts == ["R&D wants <3 charts > tables", "Q&A mode", "Tom & Jerry"]
    cards = json.dumps(slack.posted(GENERAL), ensure_ascii=False)
    assert "R&amp;D wants &lt;3 charts &gt; tables" in cards
    assert "Q&amp;A mode" in cards and "Tom &amp; Jerry" in cards
    assert "&amp;amp;" not in cards and "&amp;lt;" not in cards


# -- 7. a 💡 where the bot cannot read: the hint comes by DM -----------------------------------


@pytest.mark.anyio
async def test_bulb_where_the_bot_is_not_a_member_tells_the_person_by_dm(slack: Slack) -> None:
    msg = slack.fake.add_message("C0SECRET", user=BOB, text="an idea in a private channel")
    outside = {"channel": "C0SECRET"}.items()
    for method in ("conversations.history", "conversations.replies", "chat.postEphemeral"):
        slack.fake.fail_for(
            method, lambda params: outside <= params.items(), error="not_in_channel"
        )

    await slack.send(payloads.reaction_added("bulb", user=CAROL, channel="C0SECRET", ts=msg["ts"]))

    (dm,) = slack.posted("D0CAROL")
    assert dm["text"].startswith("I can't read that message: invite me to the channel")
    assert slack.lodestar.board.top(caller(), 10) == []


# -- 8. bots are never people; permanent DM errors are not retried --------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "author", [{"bot_id": "B0OTHER"}, {"user": "U0OTHERBOT", "bot_id": "B0OTHER"}]
)
async def test_the_shortcut_on_a_bots_message_makes_its_user_the_requester(
    slack: Slack, author: dict[str, str]
) -> None:
    slack.fake.add_user("U0OTHERBOT", name="deploybot", is_bot=True)
    msg = slack.fake.add_message(GENERAL, text="Deploys should post a changelog", **author)
    if "user" not in author:
        del slack.fake.messages(GENERAL)[-1]["user"]
    shortcut = payloads.message_action(
        "log_feedback",
        message_ts=msg["ts"],
        message_text=msg["text"],
        message_user=author.get("user", ""),
        user_id=CAROL,
        response_url=slack.fake.response_url(),
    )
    await slack.send(shortcut)
    await slack.command("ship #1", user=ADA)

    item = slack.lodestar.board.show(caller(), 1)
    assert (item.requester, item.demand) == ("carol", 1)
    assert slack.lodestar.board.who(caller(), 1).people == ["carol"]
    dms = [c.params["users"] for c in slack.fake.calls_to("conversations.open")]
    assert dms == [CAROL]


@pytest.mark.anyio
async def test_reactions_by_another_apps_bot_count_for_nothing(slack: Slack) -> None:
    slack.fake.add_user("U0OTHERBOT", name="deploybot", is_bot=True)
    await slack.command("dark mode")
    msg = slack.fake.add_message(GENERAL, user=BOB, text="a changelog per deploy")

    await slack.send(payloads.reaction_added("+1", user="U0OTHERBOT", ts=slack.card_ts(1)))
    await slack.send(payloads.reaction_added("bulb", user="U0OTHERBOT", ts=msg["ts"]))

    assert [(i.number, i.demand) for i in slack.lodestar.board.top(caller(), 10)] == [(1, 1)]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "error"),
    [
        ("conversations.open", "user_not_found"),
        ("conversations.open", "account_inactive"),
        ("chat.postMessage", "cannot_dm_bot"),
    ],
)
async def test_a_dm_that_can_never_be_delivered_is_given_up_at_once(
    slack: Slack, method: str, error: str
) -> None:
    await slack.command("dark mode")
    await slack.command("vote #1", user=BOB)

    def to_bob(params: dict[str, object]) -> bool:
        return (
            BOB in (params.get("users"), params.get("channel")) or params.get("channel") == "D0BOB"
        )

    slack.fake.fail_for(method, to_bob, error=error)
    await slack.command("ship #1", user=ADA)
    await slack.bot.outbox.run_now()

    with slack.lodestar.db.uow() as uow:
        assert uow.outbox.counts() == {"sent": 1, "failed": 1}
        (failed,) = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.state == "failed")
        )
        assert error in (failed.last_error or "") and failed.attempts == 1
    assert len([c for c in slack.fake.calls_to(method) if to_bob(c.params)]) == 1


# -- 10. Block Kit limits: every text cut to its limit, after escaping ---------------------


@pytest.mark.anyio
async def test_many_tags_and_text_full_of_entities_stay_within_block_kit(slack: Slack) -> None:
    """The fake refuses what Slack refuses (tests/slack_fake/block_kit.py)."""
    await slack.command("&" * 3_000)
    tags = " ".join(f"+t{n:03d}-" + "x" * 25 for n in range(100))
    await slack.command(f"tag #1 {tags}", user=ADA)
    shown = await slack.command("show #1", user=BOB)
    await slack.send(payloads.app_home_opened(user=ALICE))

    assert len(slack.lodestar.board.show(caller(), 1).tags) == 100
    (update,) = slack.fake.calls_to("chat.update")  # the card, redrawn with its tags
    (home,) = slack.fake.calls_to("views.publish")
    assert update.ok and home.ok
    blocks = json.loads(shown.text)["blocks"]  # the ack: Slack shows it as a message
    assert block_kit.problems(blocks, block_kit.MESSAGE_BLOCKS) == []
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(re.fullmatch(r"(?:[^&]|&(?:amp|lt|gt);)*", t) for t in sections)


# -- 11. only the team the token belongs to (or installed teams, with OAuth) is served ------

OTHER_TEAM = "T0ELSEWHERE"


@pytest.mark.anyio
async def test_a_team_without_an_installation_is_told_so_and_nothing_is_stored(
    slack: Slack,
) -> None:
    msg = slack.fake.add_message(GENERAL, user=BOB, text="an idea from elsewhere")
    command = await slack.send(
        payloads.slash_command(
            "/feedback", "dark mode", team_id=OTHER_TEAM, response_url=slack.fake.response_url()
        )
    )
    bulb = await slack.send(
        payloads.reaction_added("bulb", user=CAROL, ts=msg["ts"], team_id=OTHER_TEAM)
    )
    click = await slack.send(
        payloads.block_actions(
            render.VOTE, "1", team_id=OTHER_TEAM, response_url=slack.fake.response_url("vote")
        )
    )
    modal = await slack.send(_submission("Offline mode", team_id=OTHER_TEAM))

    assert json.loads(command.text) == {
        "response_type": "ephemeral",
        "text": "Lodestar is not installed in this workspace.",
    }
    assert bulb.status_code == click.status_code == 200
    (answer,) = [c.params for c in slack.fake.calls_to(RESPONSE_URL)]
    assert answer["text"] == "Lodestar is not installed in this workspace."
    assert json.loads(modal.text)["response_action"] == "errors"
    assert {c.method for c in slack.fake.calls} <= {"auth.test", RESPONSE_URL}
    with slack.lodestar.db.uow() as uow:
        assert uow.workspaces.all() == []
    # the team the token belongs to is served as ever
    assert "Logged as #1" in json.loads((await slack.command("dark mode")).text)["text"]


@pytest.mark.anyio
async def test_with_oauth_a_team_that_did_not_install_is_told_so(
    app: Lodestar, fake: FakeSlackWebAPI
) -> None:
    seed_people(fake)
    async for slack in open_installed_slack(app, fake, {payloads.TEAM_ID: "xoxb-t1"}):
        refused = await slack.send(
            payloads.slash_command(
                "/feedback", "dark mode", team_id=OTHER_TEAM, response_url=fake.response_url()
            )
        )
        served = await slack.command("dark mode")

    assert refused.status_code == 200
    (answer,) = [c.params for c in fake.calls_to(RESPONSE_URL)]
    assert answer["text"] == "Lodestar is not installed in this workspace."
    assert "Logged as #1" in json.loads(served.text)["text"]
    with app.db.uow() as uow:
        assert [w.external_id for w in uow.workspaces.all()] == [payloads.TEAM_ID]


# -- 1. a card's buttons act only for the board that posted the card -------------------------

T1, T2 = payloads.TEAM_ID, "T0SECOND"
T1_TOKEN, T2_TOKEN = "xoxb-first-team", "xoxb-second-team"
ZOE = "U0ZOE"  # a person of T2, in a channel shared with T1


async def _press(slack: Slack, ts: str, team: str, user: str) -> dict[str, str]:
    """Vote, Who and Show pressed on the card at ``ts``: each button's private answer."""
    answers = {}
    for action in (render.VOTE, render.WHO, render.SHOW):
        url = slack.fake.response_url()
        click = payloads.block_actions(
            action, "1", message_ts=ts, team_id=team, user_id=user, response_url=url
        )
        assert (await slack.send(click)).status_code == 200
        (answer,) = [c.params for c in slack.fake.calls_to(RESPONSE_URL) if url.endswith(c.path)]
        answers[action] = answer["text"]
    return answers


@pytest.mark.anyio
async def test_buttons_on_another_boards_card_refuse_and_never_redraw_it(
    app: Lodestar, fake: FakeSlackWebAPI
) -> None:
    seed_people(fake)
    fake.add_user(ZOE, name="zoe")
    t2_zoe = Caller("slack", T2, ZOE, "zoe", channel=GENERAL)
    async for slack in open_installed_slack(app, fake, {T1: T1_TOKEN, T2: T2_TOKEN}):
        await slack.command("dark mode")  # T1's #1, its card in the shared channel
        t1_card = slack.card_ts(1)
        await slack.send(
            payloads.slash_command(
                "/feedback", "T2 secret roadmap", team_id=T2, user_id=ZOE,
                response_url=fake.response_url(),
            )
        )  # fmt: skip
        t2_card = slack.card_ts(1)
        fake.clear_calls()

        answers = await _press(slack, t1_card, T2, ZOE)
        await slack.command("vote #1", user=BOB)  # T1 changes its own item: redraws its card

    refusal = "That card belongs to another workspace's board; its buttons work there."
    assert answers == {render.VOTE: refusal, render.WHO: refusal, render.SHOW: refusal}
    assert app.board.show(t2_zoe, 1).demand == 1  # T2's #1 untouched
    assert app.board.show(caller(), 1).demand == 2  # T1's #1: alice and bob only
    updates = fake.calls_to("chat.update")
    assert [(u.params["ts"], u.token) for u in updates] == [(t1_card, T1_TOKEN)]
    assert "secret roadmap" not in json.dumps([u.params for u in updates])
    assert t2_card != t1_card


@pytest.mark.anyio
async def test_buttons_on_a_card_of_the_same_board_posted_by_its_other_workspace_act_on_it(
    app: Lodestar, fake: FakeSlackWebAPI
) -> None:
    """After a board join, one board spans both teams: a card either team's bot posted
    stands for its own item, whatever number its button carries."""
    seed_people(fake)
    fake.add_user(ZOE, name="zoe", is_admin=True)
    async for slack in open_installed_slack(app, fake, {T1: T1_TOKEN, T2: T2_TOKEN}):
        await slack.command("dark mode")  # T1's #1
        t2 = {"team_id": T2, "user_id": ZOE, "response_url": fake.response_url()}
        await slack.send(payloads.slash_command("/feedback", "offline mode", **t2))
        t2_card = slack.card_ts(1)  # T2's #1, its button says "1"
        code = app.router.command(caller(ADA, "ada", admin=True), "feedback", "board join")
        await slack.send(
            payloads.slash_command("/feedback", f"board join {code[0].data['code']}", **t2)
        )  # T2's items move onto T1's board: "offline mode" is #2 now

        answers = await _press(slack, t2_card, T1, BOB)

    assert answers[render.VOTE].startswith("👍 Vote counted for #2")
    assert answers[render.SHOW].startswith("#2 offline mode")
    assert app.board.show(caller(), 1).demand == 1  # "dark mode" untouched


# -- 5. public posts that matter are retried through the outbox; the ack says what is true ---


def _fail_once(slack: Slack, when: Callable[[dict], bool]) -> None:
    """chat.postMessage answers 500 to the first post matching ``when``."""
    hits: list[bool] = []

    def first(params: dict) -> bool:
        if hits or not when(params):
            return False
        hits.append(True)
        return True

    slack.fake.fail_for("chat.postMessage", first, status=500, error="internal_error")


@pytest.mark.anyio
async def test_a_card_slack_failed_to_post_is_posted_from_the_outbox_and_remembered(
    slack: Slack,
) -> None:
    _fail_once(slack, lambda params: params.get("channel") == GENERAL)

    resp = await slack.command("dark mode")

    assert json.loads(resp.text)["text"] == "📝 Logged as #1."  # no card claimed
    assert slack.posted(GENERAL) == []
    await slack.bot.outbox.run_now()
    (card,) = slack.posted(GENERAL)
    assert card["text"].startswith("📝 #1 logged: “dark mode”")
    assert slack.lodestar.router.card_item(caller(), GENERAL, slack.card_ts(1)) == 1
    with slack.lodestar.db.uow() as uow:
        assert uow.outbox.counts() == {"sent": 1}
    await slack.send(payloads.reaction_added("+1", user=BOB, ts=slack.card_ts(1)))
    assert slack.lodestar.board.show(caller(), 1).demand == 2  # a 👍 on it votes


@pytest.mark.anyio
async def test_a_failed_ship_post_still_redraws_and_notifies_at_once_and_is_retried(
    slack: Slack,
) -> None:
    await slack.command("dark mode")
    await slack.command("vote #1", user=BOB)
    card_ts = slack.card_ts(1)
    slack.fake.clear_calls()
    _fail_once(slack, lambda params: "shipped" in str(params.get("text")))

    await slack.command("ship #1 it is live", user=ADA)

    (update,) = slack.fake.calls_to("chat.update")
    assert update.params["ts"] == card_ts and "shipped" in json.dumps(update.params["blocks"])
    posted = sorted(c.response["channel"] for c in slack.fake.calls_to("chat.postMessage") if c.ok)
    assert posted == [GENERAL, "D0ALICE", "D0BOB"]  # now, not at the next tick
    (shipped,) = [p for p in slack.posted(GENERAL) if "shipped" in p["text"]]
    assert shipped["text"].startswith("🚀 #1 shipped")
    with slack.lodestar.db.uow() as uow:
        assert uow.outbox.counts() == {"sent": 3}


# -- 2. slow work never on the ack path: the duplicate index, the export ---------------------


@pytest.mark.anyio
async def test_a_capture_while_the_duplicate_index_is_built_acks_without_waiting_for_it(
    app: Lodestar, fake: FakeSlackWebAPI
) -> None:
    """A fresh process on a board that has items: its index is built in the background
    (held up here behind a busy worker), and captures meanwhile come without suggestions."""
    seed_people(fake)
    app.board.capture(caller(), "dark mode for the editor")
    fresh = Lodestar.build(app.db, app.clock)  # a new process: no index in memory
    gate = threading.Event()
    pool = ThreadPoolExecutor(1)
    pool.submit(gate.wait)
    async for slack in open_slack(fresh, fake):
        warming = fresh.router.warm_up(pool)
        while_building = await slack.command("a dark mode for the whole editor please")
        gate.set()
        await asyncio.wrap_future(warming)
        once_built = await slack.command("dark mode in the editor, please", user=BOB)
    pool.shutdown()

    assert json.loads(while_building.text)["text"] == "📝 Logged as #2."
    assert "Looks like #1" in json.loads(once_built.text)["text"]
    assert [i.number for i in fresh.board.top(caller(), 10)] == [1, 2, 3]


@pytest.mark.anyio
async def test_export_acks_at_once_and_the_csv_follows(slack: Slack) -> None:
    await slack.command("dark mode")
    await slack.command("offline mode", user=BOB)

    refused = await slack.command("export", user=BOB)
    resp = await slack.command("export", user=ADA)

    assert json.loads(refused.text)["text"] == "Only board admins can export the board."
    assert json.loads(resp.text)["text"] == (
        "Preparing the CSV of the board; it comes here in a moment."
    )
    (upload,) = slack.fake.uploads
    assert upload.completed and upload.filename == "feedback.csv"
    assert upload.channel_id == "D0ADA" and upload.data is not None
    assert b"dark mode" in upload.data and b"offline mode" in upload.data
    said = [c.params["text"] for c in slack.fake.calls_to(RESPONSE_URL)]
    assert "The board as CSV: 2 items." in said


@pytest.mark.anyio
async def test_health_answers_while_another_process_holds_the_sqlite_write_lock(
    slack: Slack,
) -> None:
    """A command waiting for SQLite's write lock (an import in another process) waits on
    a worker thread: the event loop, and with it /healthz, goes on."""
    from sqlalchemy import text

    if slack.lodestar.db.dialect != "sqlite":
        pytest.skip("the write lock that blocks is SQLite's")
    held, released = threading.Event(), threading.Event()

    def other_process() -> None:
        with slack.lodestar.db.engine.connect() as conn:  # BEGIN IMMEDIATE: the write lock
            conn.execute(text("SELECT 1"))
            held.set()
            released.wait(1.5)  # let go on its own, whatever the test does meanwhile
            conn.rollback()
        released.set()

    holder = threading.Thread(target=other_process)
    holder.start()
    held.wait(5)
    command = asyncio.ensure_future(slack.command("Dark mode while locked"))
    await asyncio.sleep(0.05)  # the command is now waiting for the lock
    health = await slack.http.get("/healthz")
    answered_while_locked = not released.is_set()
    await command
    holder.join()
    assert health.status_code == 200 and answered_while_locked
    assert [v.text for v in slack.lodestar.board.items(caller())] == ["Dark mode while locked"]


@pytest.mark.anyio
async def test_shortcuts_without_a_trigger_id_are_not_taken_for_replays(slack: Slack) -> None:
    for text in ("pen tool should snap", "layers should lock"):
        msg = slack.fake.add_message(GENERAL, user=BOB, text=text)
        req = payloads.message_action(
            "log_feedback",
            message_ts=msg["ts"],
            message_text=text,
            message_user=BOB,
            channel_id=GENERAL,
            user_id=CAROL,
            response_url=slack.fake.response_url(),
            with_trigger=False,
        )
        assert (await slack.send(req)).status_code == 200
    assert [v.text for v in slack.lodestar.board.items(caller())] == [
        "pen tool should snap",
        "layers should lock",
    ]
