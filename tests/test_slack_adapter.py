"""The Slack adapter, end to end through the real Bolt app and slack_sdk against a fake Slack.

Each test sends correctly signed requests (slash commands, events, shortcuts, block
actions, view submissions) and checks both the Web API calls the app made and what
the core stored. Storage-touching tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from adapters.slack import render
from bot.app import Lodestar
from tests.slack_fake import RESPONSE_URL, FakeSlackWebAPI, fake_slack_fixture, payloads, signing
from tests.slack_support import (
    ADA,
    ALICE,
    BOB,
    CAROL,
    DAVE,
    GENERAL,
    SECRET,
    Slack,
    ack_json,
    caller,
    no_jitter,
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


def _everything_sent(s: Slack, *responses: str) -> str:
    """Every byte the app sent to Slack: Web API params, response_url bodies, ack bodies."""
    return "\n".join(
        [json.dumps(c.params, ensure_ascii=False) for c in s.fake.calls] + list(responses)
    )


# -- capture -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_feedback_command_acks_privately_and_posts_a_card(slack: Slack) -> None:
    resp = await slack.command("Export frames to PDF")

    body = ack_json(resp)
    assert body["response_type"] == "ephemeral" and "#1" in body["text"]
    (card,) = slack.posted(GENERAL)
    assert card["text"].startswith("📝 #1 logged: “Export frames to PDF”")
    buttons = next(b for b in card["blocks"] if b["type"] == "actions")["elements"]
    value = buttons[0]["value"]  # the number, and the item's id (a join renumbers)
    assert value.startswith("1@")
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (render.VOTE, value),
        (render.WHO, value),
        (render.SHOW, value),
    ]
    item = slack.lodestar.board.show(caller(), 1)
    assert (item.text, item.requester, item.demand) == ("Export frames to PDF", "alice", 1)
    # the card's ts is remembered: a 👍 on it is a vote
    assert slack.lodestar.router.card_item(caller(), GENERAL, slack.card_ts(1)) == 1


@pytest.mark.anyio
async def test_suggestions_come_back_in_the_ack(slack: Slack) -> None:
    await slack.command("dark mode for the editor")
    resp = await slack.command("a dark mode for the whole editor please", user=BOB)

    text = ack_json(resp)["text"]
    assert "Logged as #2" in text and "Looks like #1" in text
    assert len(slack.posted(GENERAL)) == 2


@pytest.mark.anyio
async def test_feedback_alone_opens_a_modal_whose_submission_logs(slack: Slack) -> None:
    resp = await slack.command("", trigger_id="111.222.abc")

    assert resp.text == ""
    (opened,) = slack.fake.calls_to("views.open")
    assert opened.params["trigger_id"] == "111.222.abc"
    view = opened.params["view"]
    assert view["callback_id"] == render.FORM_CALLBACK
    assert view["blocks"][0]["label"]["text"] == "What would make the product better?"

    values = payloads.text_inputs({render.FORM_BLOCK: {render.FORM_INPUT: "Offline mode"}})
    submit = payloads.view_submission(
        render.FORM_CALLBACK, values, private_metadata=view["private_metadata"], user_id=CAROL
    )
    resp = await slack.send(submit)

    assert resp.status_code == 200 and resp.text == ""  # the modal closes
    (card,) = slack.posted(GENERAL)
    assert "#1" in card["text"] and "Offline mode" in card["text"]
    assert slack.lodestar.board.show(caller(), 1).requester == "carol"

    too_long = payloads.text_inputs({render.FORM_BLOCK: {render.FORM_INPUT: "x" * 4001}})
    resp = await slack.send(
        payloads.view_submission(render.FORM_CALLBACK, too_long, private_metadata="{}")
    )
    assert ack_json(resp)["response_action"] == "errors"
    assert "4,000" in ack_json(resp)["errors"][render.FORM_BLOCK]
    assert len(slack.lodestar.board.top(caller(), 10)) == 1


@pytest.mark.anyio
async def test_message_shortcut_logs_the_message_with_its_author(slack: Slack) -> None:
    msg = slack.fake.add_message("C0DESIGN", user=BOB, text="pen tool should snap to 45°")
    req = payloads.message_action(
        "log_feedback",
        message_ts=msg["ts"],
        message_text=msg["text"],
        message_user=BOB,
        channel_id="C0DESIGN",
        user_id=CAROL,
        response_url=slack.fake.response_url(),
    )

    resp = await slack.send(req)

    assert resp.status_code == 200
    (card,) = slack.posted("C0DESIGN")
    assert card["thread_ts"] == msg["ts"]  # the card goes in the message's thread
    item = slack.lodestar.board.show(caller(), 1)
    assert (item.text, item.requester) == ("pen tool should snap to 45°", "bob")
    (source,) = item.sources
    assert source.via == "shortcut" and source.captured_by == "carol"
    assert source.permalink and source.permalink.endswith("p" + msg["ts"].replace(".", ""))


@pytest.mark.anyio
async def test_bulb_reaction_logs_the_message_once_even_when_slack_retries(slack: Slack) -> None:
    msg = slack.fake.add_message("C0DESIGN", user=BOB, text="keyboard shortcut to duplicate")
    event = payloads.reaction_added(
        "bulb", user=CAROL, channel="C0DESIGN", ts=msg["ts"], item_user=BOB
    )

    first = await slack.send(event)
    again = await slack.send(event, retry_num=1, retry_reason="http_timeout")

    assert first.status_code == again.status_code == 200
    history = slack.fake.last("conversations.history").params
    assert (history["channel"], history["latest"], history["inclusive"]) == (
        "C0DESIGN",
        msg["ts"],
        "1",
    )
    assert slack.fake.calls_to("chat.getPermalink")
    (card,) = slack.posted("C0DESIGN")
    assert card["thread_ts"] == msg["ts"]
    assert not slack.fake.calls_to("chat.postEphemeral")
    items = slack.lodestar.board.top(caller(), 10)
    assert [(i.number, i.requester) for i in items] == [(1, "bob")]
    assert items[0].text == "keyboard shortcut to duplicate"


@pytest.mark.anyio
async def test_bulb_on_a_thread_reply_reads_the_thread_and_answers_in_it(slack: Slack) -> None:
    root = slack.fake.add_message("C0DESIGN", user=ALICE, text="what should we build next?")
    reply = slack.fake.add_message(
        "C0DESIGN", user=BOB, text="comments by email", thread_ts=root["ts"]
    )

    await slack.send(payloads.reaction_added("💡", user=CAROL, channel="C0DESIGN", ts=reply["ts"]))

    assert slack.fake.calls_to("conversations.replies")
    (card,) = slack.posted("C0DESIGN")
    assert card["thread_ts"] == root["ts"]
    assert slack.lodestar.board.show(caller(), 1).text == "comments by email"


@pytest.mark.anyio
async def test_other_reactions_are_ignored(slack: Slack) -> None:
    msg = slack.fake.add_message(GENERAL, user=BOB, text="nice")
    await slack.send(payloads.reaction_added("eyes", ts=msg["ts"]))
    await slack.send(payloads.reaction_removed("bulb", ts=msg["ts"]))
    assert slack.fake.calls == [] or all(c.method in ("auth.test",) for c in slack.fake.calls)
    assert slack.lodestar.board.top(caller(), 10) == []


# -- votes -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_vote_and_unvote_by_reaction_update_the_card(slack: Slack) -> None:
    await slack.command("SSO with Okta")
    card_ts = slack.card_ts(1)

    await slack.send(payloads.reaction_added("+1", user=BOB, ts=card_ts))
    await slack.send(payloads.reaction_added("thumbsup", user=CAROL, ts=card_ts))
    await slack.send(payloads.reaction_added("+1::skin-tone-3", user=DAVE, ts=card_ts))

    assert slack.lodestar.board.show(caller(), 1).demand == 4
    update = slack.fake.last("chat.update").params
    assert update["ts"] == card_ts and "demand *4*" in json.dumps(update["blocks"])
    assert slack.fake.messages(GENERAL)[0]["text"].startswith("📝 #1 logged")
    ephemerals = slack.fake.calls_to("chat.postEphemeral")
    assert [c.params["user"] for c in ephemerals] == [BOB, CAROL, DAVE]
    assert "Vote counted for #1" in ephemerals[0].params["text"]

    await slack.send(payloads.reaction_removed("+1", user=BOB, ts=card_ts))
    assert slack.lodestar.board.show(caller(), 1).demand == 3
    assert "demand *3*" in json.dumps(slack.fake.last("chat.update").params["blocks"])
    assert sorted(slack.lodestar.board.who(caller(), 1).people) == ["alice", "carol", "dave"]


@pytest.mark.anyio
async def test_vote_reaction_on_a_captured_message_counts(slack: Slack) -> None:
    msg = slack.fake.add_message(GENERAL, user=BOB, text="bulk rename layers")
    await slack.send(payloads.reaction_added("bulb", user=CAROL, ts=msg["ts"]))
    await slack.send(payloads.reaction_added("+1", user=DAVE, ts=msg["ts"]))

    assert sorted(slack.lodestar.board.who(caller(), 1).people) == ["bob", "dave"]


@pytest.mark.anyio
async def test_vote_button_and_who_show_buttons(slack: Slack) -> None:
    await slack.command("Templates gallery")
    card_ts = slack.card_ts(1)

    def click(action: str, user: str, key: str) -> payloads.SlackRequest:
        return payloads.block_actions(
            action,
            "1",
            message_ts=card_ts,
            user_id=user,
            response_url=slack.fake.response_url(key),
        )

    await slack.send(click(render.VOTE, BOB, "vote1"))
    await slack.send(click(render.VOTE, BOB, "vote2"))
    await slack.send(click(render.WHO, CAROL, "who"))
    await slack.send(click(render.SHOW, CAROL, "show"))

    answers = {c.path.rsplit("/", 1)[1]: c.params for c in slack.fake.calls_to(RESPONSE_URL)}
    assert answers["vote1"]["text"].startswith("👍 Vote counted for #1: demand 2")
    assert answers["vote2"]["text"].startswith("You already vote for #1")
    assert answers["who"]["text"] == "2 people behind #1: alice, bob"
    assert answers["show"]["text"].startswith("#1 Templates gallery")
    assert all(
        a["response_type"] == "ephemeral" and a["replace_original"] is False
        for a in answers.values()
    )
    (update,) = slack.fake.calls_to("chat.update")  # only the vote that changed something
    assert update.params["ts"] == card_ts and "demand *2*" in json.dumps(update.params["blocks"])
    assert slack.lodestar.board.show(caller(), 1).demand == 2


@pytest.mark.anyio
async def test_card_buttons_follow_their_item_when_a_board_join_renumbers_it(
    slack: Slack,
) -> None:
    from bot.context import Caller

    console = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    slack.lodestar.board.capture(console, "export to pdf")
    code = slack.lodestar.router.command(console, "feedback", "board join")[0].data["code"]
    await slack.command("dark mode")
    card_ts = slack.card_ts(1)
    joined = await slack.command(f"board join {code}", user=ADA)
    assert "Your item is now #2" in ack_json(joined)["text"]

    await slack.send(
        payloads.block_actions(
            render.VOTE,
            "1",
            message_ts=card_ts,
            user_id=BOB,
            response_url=slack.fake.response_url("vote"),
        )
    )
    (answer,) = [c.params for c in slack.fake.calls_to(RESPONSE_URL) if c.path.endswith("vote")]
    assert answer["text"].startswith("👍 Vote counted for #2: demand 2")
    assert slack.lodestar.board.show(console, 1).demand == 1  # "export to pdf" untouched


@pytest.mark.anyio
async def test_vote_command_redraws_known_cards(slack: Slack) -> None:
    await slack.command("Presenter mode")
    resp = await slack.command("vote #1", user=BOB)

    assert "Vote counted for #1: demand 2" in ack_json(resp)["text"]
    assert slack.fake.last("chat.update").params["ts"] == slack.card_ts(1)


@pytest.mark.anyio
async def test_cards_posted_by_another_process_are_redrawn_too(
    slack: Slack, app: Lodestar, fake: FakeSlackWebAPI
) -> None:
    await slack.command("Presenter mode")
    async for other in open_slack(app, fake):  # a second worker, or this one restarted
        await other.command("vote #1", user=BOB)

    update = slack.fake.last("chat.update").params
    assert update["ts"] == slack.card_ts(1) and "demand *2*" in json.dumps(update["blocks"])
    assert update["text"].startswith("📝 #1 logged: “Presenter mode”")


# -- admins ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_admin_commands_follow_slack_admin_status(slack: Slack) -> None:
    await slack.command("dark mode")
    await slack.command("night theme", user=BOB)

    refused = await slack.command("merge #2 into #1", user=BOB)
    assert ack_json(refused) == {
        "text": "Only board admins can merge items.",
        "blocks": ack_json(refused)["blocks"],
        "response_type": "ephemeral",
    }
    assert slack.lodestar.board.show(caller(), 2).merged_into is None

    merged = await slack.command("merge #2 into #1", user=ADA)
    assert "#2 merged into #1" in ack_json(merged)["text"]
    assert slack.lodestar.board.show(caller(), 1).demand == 2
    # users.info is asked once per person, then cached
    asked = [c.params["user"] for c in slack.fake.calls_to("users.info")]
    assert sorted(asked) == [ADA, ALICE, BOB]


@pytest.mark.anyio
async def test_board_admins_are_added_by_mention_and_known_by_id(slack: Slack) -> None:
    await slack.command("dark mode")
    await slack.command("night theme", user=BOB)
    by_name = await slack.command("admins add bob", user=ADA)
    assert "Mention the person (@bob)" in ack_json(by_name)["text"]
    added = await slack.command(f"admins add <@{BOB}|bob>", user=ADA)
    assert f"admins (besides platform admins): {BOB}" in ack_json(added)["text"]
    merged = await slack.command("merge #2 into #1", user=BOB)
    assert "#2 merged into #1" in ack_json(merged)["text"]
    # Carol renaming herself "bob" gains nothing: rights follow the user id.
    slack.fake.add_user(CAROL, name="bob")
    refused = await slack.command("unmerge #2", user=CAROL, user_name="bob")
    assert ack_json(refused)["text"] == "Only board admins can unmerge items."


# -- ship --------------------------------------------------------------------------------------


async def _board_with_backers(slack: Slack) -> str:
    """#1 from alice; #2 is bob's message captured by carol, voted by dave and alice;
    #2 merged into #1; announcements go to #announcements. Returns bob's message ts."""
    await slack.command("dark mode")
    msg = slack.fake.add_message("C0DESIGN", user=BOB, text="a night theme")
    await slack.send(payloads.reaction_added("bulb", user=CAROL, channel="C0DESIGN", ts=msg["ts"]))
    for user in (DAVE, ALICE):
        await slack.send(payloads.reaction_added("+1", user=user, channel="C0DESIGN", ts=msg["ts"]))
    await slack.command("merge #2 into #1", user=ADA)
    await slack.command("announce #announcements", user=ADA)
    return str(msg["ts"])


@pytest.mark.anyio
async def test_ship_notifies_each_person_once_threads_and_announces_through_a_429(
    slack: Slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_jitter(monkeypatch)
    source_ts = await _board_with_backers(slack)
    slack.fake.clear_calls()
    limited = []

    def rate_limit_bob_once(params: dict[str, object]) -> bool:
        hit = params.get("channel") == "D0BOB" and not limited
        limited.append(hit) if hit else None
        return hit

    slack.fake.fail_for("chat.postMessage", rate_limit_bob_once, status=429, retry_after=0)

    resp = await slack.command("ship #1 Dark mode is live", user=ADA)

    assert resp.status_code == 200
    dms = {
        c.response["channel"]: c.params["text"]
        for c in slack.fake.calls_to("chat.postMessage")
        if c.ok and c.response["channel"].startswith("D")
    }
    assert sorted(dms) == ["D0ALICE", "D0BOB", "D0DAVE"]  # carol only captured it
    assert all("🚀 Shipped: #1 “dark mode” — Dark mode is live" in t for t in dms.values())
    bob_attempts = [
        c.status for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == "D0BOB"
    ]
    assert bob_attempts == [429, 200]
    (thread,) = [p for p in slack.posted("C0DESIGN") if p.get("thread_ts") == source_ts]
    assert thread["text"].startswith("🚀 This shipped as #1")
    (announcement,) = [p for p in slack.posted() if p["channel"] == "#announcements"]
    assert "asked for by 3 people" in announcement["text"]
    (public,) = [p for p in slack.posted(GENERAL) if "shipped" in p["text"]]
    assert public["text"].startswith("🚀 #1 shipped")
    with slack.lodestar.db.uow() as uow:
        assert uow.outbox.counts() == {"sent": 5}

    # shipping again queues nothing and sends nothing
    slack.fake.clear_calls()
    again = await slack.command("ship #1", user=ADA)
    assert "already shipped" in ack_json(again)["text"]
    await slack.bot.outbox.run_now()
    assert not [
        c
        for c in slack.fake.calls_to("chat.postMessage")
        if c.params["channel"].startswith(("D", "U"))
    ]


@pytest.mark.anyio
async def test_an_error_on_one_dm_never_stops_the_rest(slack: Slack) -> None:
    await _board_with_backers(slack)
    slack.fake.fail_for(
        "conversations.open", lambda params: params.get("users") == BOB, error="user_not_found"
    )

    await slack.command("ship #1", user=ADA)

    delivered = sorted(
        c.response["channel"]
        for c in slack.fake.calls_to("chat.postMessage")
        if c.ok and c.response["channel"].startswith("D")
    )
    assert delivered == ["D0ALICE", "D0DAVE"]
    with slack.lodestar.db.uow() as uow:  # Bob's account is gone: given up, not retried
        assert uow.outbox.counts() == {"sent": 4, "failed": 1}


# -- safety ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_forged_and_stale_signatures_get_401_and_change_nothing(slack: Slack) -> None:
    command = payloads.slash_command("/feedback", "sneaky", response_url=slack.fake.response_url())
    msg = slack.fake.add_message(GENERAL, user=BOB, text="sneaky too")
    event = payloads.reaction_added("bulb", ts=msg["ts"])

    for req in (command, event):
        for headers in (
            signing.forged_headers(req.body),
            signing.stale_headers(req.body, SECRET),
            {},
        ):
            resp = await slack.http.post(
                "/slack/events",
                content=req.body,
                headers={"Content-Type": req.content_type, **headers},
            )
            assert resp.status_code == 401
    await slack.bot.tasks.drain()
    assert slack.fake.calls == []
    assert slack.lodestar.board.top(caller(), 10) == []


@pytest.mark.anyio
async def test_mentions_are_never_echoed_raw(slack: Slack) -> None:
    nasty = "<!channel> <!here> <@U0BOB> & <#C0GENERAL> @everyone dark mode now"
    first = await slack.command(nasty)
    msg = slack.fake.add_message(GENERAL, user=BOB, text="<!here> also <!channel> this")
    await slack.send(payloads.reaction_added("bulb", user=CAROL, ts=msg["ts"]))
    shown = await slack.command("show #1", user=CAROL)
    listed = await slack.command("search dark", user=CAROL)
    await slack.command("ship #1 <!channel> it's out", user=ADA)
    await slack.send(payloads.app_home_opened(user=ALICE))

    sent = _everything_sent(slack, first.text, shown.text, listed.text)
    for raw in ("<!channel>", "<!here>", "<@U0BOB>", "<#C0GENERAL>", "<\u200b!"):
        assert raw not in sent
    assert "&lt;\u200b!channel&gt;" in sent and "&amp;" in sent
    # stored verbatim all the same
    assert slack.lodestar.board.show(caller(), 1).text == nasty


# -- App Home ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_app_home_shows_top_items_mine_and_votes(slack: Slack) -> None:
    await slack.command("dark mode")
    await slack.command("offline mode", user=BOB)
    await slack.command("vote #2")

    await slack.send(payloads.app_home_opened(user=ALICE))
    await slack.send(payloads.app_home_opened(user=ALICE, tab="messages"))

    (published,) = slack.fake.calls_to("views.publish")
    assert published.params["user_id"] == ALICE
    view = published.params["view"]
    assert view["type"] == "home"
    text = json.dumps(view, ensure_ascii=False)
    assert text.index("Top 10") < text.index("*#2* offline mode") < text.index("*#1* dark mode")
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == [
        "⭐ North star",
        "🏆 Top 10 by demand",
        "🙋 You asked for",
        "👍 You vote for",
    ]
    nsm = " ".join(r.text for r in slack.lodestar.router.command(caller(), "nsm", ""))
    assert view["blocks"][1]["text"]["text"].split()[:4] == nsm.split()[:4]  # /nsm's summary
    ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert len(ids) == len(set(ids))  # Slack refuses a view whose block ids repeat

    # the home's "Log feedback" button opens the same modal
    await slack.send(payloads.block_actions(render.OPEN_FORM, block_id="home", trigger_id="9.9.x"))
    assert slack.fake.last("views.open").params["view"]["callback_id"] == render.FORM_CALLBACK


@pytest.mark.anyio
async def test_every_card_of_a_group_shows_its_demand_and_status(slack: Slack) -> None:
    await slack.command("dark mode")
    await slack.command("night theme", user=BOB)
    head_ts, merged_ts = slack.card_ts(1), slack.card_ts(2)
    await slack.command("merge #2 into #1", user=ADA)

    def shown(ts: str) -> str:
        updates = [c.params for c in slack.fake.calls_to("chat.update") if c.params["ts"] == ts]
        return json.dumps(updates[-1]["blocks"], ensure_ascii=False)

    assert "demand *2*" in shown(head_ts) and "merged into #1" in shown(merged_ts)
    await slack.command("vote #2", user=CAROL)  # a vote on the merged item...
    assert "demand *3*" in shown(head_ts)  # ...shows on the head's card
    assert "demand *3*" in shown(merged_ts)
    await slack.command("ship #1 it is live", user=ADA)
    assert "shipped" in shown(merged_ts)  # the merged item's card says so too


@pytest.mark.anyio
async def test_only_the_newest_cards_of_an_item_are_redrawn(slack: Slack) -> None:
    from sqlalchemy import update

    from bot.context import Caller
    from storage.models import MessageRef

    await slack.command("dark mode")
    for n in range(12):
        assert slack.lodestar.router.remember_card(caller(), 1, GENERAL, f"1700000100.{n:06d}")
    other = Caller("console", "elsewhere", "kim", "kim")
    slack.lodestar.board.capture(other, "another board")
    with slack.lodestar.db.uow() as uow:  # rewrite the oldest rows: on PostgreSQL they move
        boards = {w.external_id: w.board_id for w in uow.workspaces.all()}
        for board in (boards["elsewhere"], boards[caller().workspace]):
            uow.session.execute(update(MessageRef).where(MessageRef.id <= 3).values(board_id=board))
        uow.commit()
    posted = slack.lodestar.router.cards_to_redraw(
        caller(), slack.lodestar.router.vote_button(caller(BOB, "bob"), 1)[0]
    )
    newest = [f"1700000100.{n:06d}" for n in range(11, 1, -1)]
    assert [p.message_id for p in posted] == newest
