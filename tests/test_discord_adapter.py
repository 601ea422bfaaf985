"""The Discord adapter, end to end through the real discord.py client against a local
stand-in of Discord's REST API and gateway. Every test checks both the REST calls the
adapter made and what the core stored; storage-touching tests run on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.app import Lodestar
from tests.discord_fake import (
    ALICE_ID,
    BOB_ID,
    CHANNEL_ID,
    CREATE_MESSAGE,
    EDIT_MESSAGE,
    OPEN_DM,
    FakeDiscord,
    Intent,
    Permission,
    fake_discord_fixture,
    payloads,
)
from tests.discord_support import CAROL_ID, Discord, caller, content_of, open_discord, person

fake_discord = fake_discord_fixture()
CREATE_MESSAGE_IN_GENERAL = lambda call: (  # noqa: E731
    call.route == "/channels/{channel_id}/messages"
    and call.method == "POST"
    and call.params.get("channel_id") == str(CHANNEL_ID)
)
MANAGE = Permission.MEMBER | Permission.MANAGE_GUILD


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def discord_bot(app: Lodestar, fake_discord: FakeDiscord) -> AsyncIterator[Discord]:
    async for d in open_discord(app, fake_discord):
        yield d


def everything_sent(d: Discord) -> list[dict]:
    """Every message body the adapter sent to Discord (callbacks, followups, posts, edits)."""
    out = []
    for call in d.fake.calls:
        if call.method in ("POST", "PATCH") and isinstance(call.json, dict):
            body = call.json.get("data", call.json)
            if isinstance(body, dict) and ("content" in body or "embeds" in body):
                out.append(body)
    return out


# -- connecting -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_it_connects_without_the_members_intent_and_syncs_its_commands(
    discord_bot: Discord,
) -> None:
    (identify,) = discord_bot.fake.identifies
    assert not identify["intents"] & Intent.GUILD_MEMBERS
    assert identify["intents"] & Intent.GUILD_MESSAGE_REACTIONS
    assert identify["intents"] & Intent.MESSAGE_CONTENT
    names = {c["name"]: c for c in discord_bot.fake.commands()}
    assert set(names) == {"feedback", "nsm", "Log as feedback"}
    (option,) = names["feedback"]["options"]
    assert (option["name"], option["type"], option.get("required", False)) == ("text", 3, False)
    assert option["autocomplete"] is True
    assert names["Log as feedback"]["type"] == 3


# -- capture ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_feedback_posts_a_public_card_with_buttons_and_remembers_it(
    discord_bot: Discord,
) -> None:
    answer = await discord_bot.command("Dark mode")
    first = answer.calls[0]
    assert not first.ephemeral and first.allowed_mentions == {"parse": []}
    card = answer.bodies[0]
    assert card["content"].startswith("📝 #1 logged: “Dark mode”")
    assert card["embeds"][0]["title"] == "#1 Dark mode"
    buttons = [c["custom_id"] for row in card["components"] for c in row["components"]]
    item_id = buttons[0].rsplit("@", 1)[1]  # the item's id rides along: joins renumber
    assert buttons == [f"lodestar:{v}:1@{item_id}" for v in ("vote", "who", "show")]
    item = discord_bot.lodestar.board.show(caller(), 1)
    assert (item.text, item.requester, item.demand) == ("Dark mode", "Alice", 1)
    assert discord_bot.lodestar.router.card_item(caller(), str(CHANNEL_ID), answer.message_id) == 1


@pytest.mark.anyio
async def test_likely_duplicates_come_privately_after_the_card(discord_bot: Discord) -> None:
    await discord_bot.command("Dark mode for the editor")
    answer = await discord_bot.command("A dark mode please", who="bob")
    assert [c.ephemeral for c in answer.calls] == [False, True]
    assert answer.texts[1].startswith("Looks like #1 — vote there instead?")


@pytest.mark.anyio
async def test_feedback_alone_opens_a_form_whose_text_is_logged(discord_bot: Discord) -> None:
    answer = await discord_bot.command(None)
    assert answer.calls[0].json["type"] == 9  # a modal
    form = answer.calls[0].json["data"]
    field = form["components"][0]["components"][0]["custom_id"]
    submitted = await discord_bot.interact(
        payloads.modal_submit(form["custom_id"], {field: "Offline mode"}, invoker=person("bob"))
    )
    assert submitted.bodies[0]["content"].startswith("📝 #1 logged: “Offline mode”")
    assert discord_bot.lodestar.board.show(caller(), 1).requester == "Bob"


@pytest.mark.anyio
async def test_log_as_feedback_on_a_message_makes_its_author_the_requester(
    discord_bot: Discord,
) -> None:
    said = discord_bot.fake.add_message(
        payloads.message("Bulk rename layers", author=person("bob"))
    )
    answer = await discord_bot.interact(payloads.message_command(said, invoker=person("alice")))
    assert answer.bodies[0]["content"].startswith("📝 #1 logged: “Bulk rename layers”")
    item = discord_bot.lodestar.board.show(caller(), 1)
    assert (item.requester, item.sources[0].via, item.sources[0].captured_by) == (
        "Bob",
        "menu",
        "Alice",
    )
    again = await discord_bot.interact(payloads.message_command(said, invoker=person("carol")))
    assert again.calls[0].ephemeral and again.text.startswith("That message is already #1")


@pytest.mark.anyio
async def test_a_bots_message_is_requested_by_whoever_logs_it(discord_bot: Discord) -> None:
    webhook = payloads.user(1_210_000_000_000_299_999, "deploy-bot", bot=True)
    said = discord_bot.fake.add_message(payloads.message("Deploys are slow", author=webhook))
    await discord_bot.interact(payloads.message_command(said, invoker=person("carol")))
    assert discord_bot.lodestar.board.who(caller(), 1).people == ["Carol"]


@pytest.mark.anyio
async def test_a_bulb_on_any_message_logs_it_and_the_card_replies_to_it(
    discord_bot: Discord,
) -> None:
    said = discord_bot.fake.add_message(payloads.message("Comments by email", author=person("bob")))
    await discord_bot.react(said, "💡", "carol")
    (card,) = discord_bot.cards()
    assert card["content"].startswith("📝 #1 logged: “Comments by email” (requested by Bob)")
    assert card["message_reference"]["message_id"] == said["id"]
    item = discord_bot.lodestar.board.show(caller(), 1)
    assert (item.requester, item.sources[0].via) == ("Bob", "reaction")
    await discord_bot.react(said, "💡", "dave")  # the same message again: the same item
    assert len(discord_bot.lodestar.board.items(caller())) == 1


@pytest.mark.anyio
async def test_without_the_message_content_intent_a_bulb_explains_itself_by_dm(
    app: Lodestar, fake_discord: FakeDiscord
) -> None:
    async for d in open_discord(app, fake_discord, message_content=False):
        said = d.fake.add_message(payloads.message("Comments by email", author=person("bob")))
        await d.react(said, "💡", "carol")
        (dm,) = d.fake.dms_to(CAROL_ID)
        assert "Message Content intent is off" in dm["content"]
        assert d.lodestar.board.items(caller()) == []
        assert not d.fake.identifies[0]["intents"] & Intent.MESSAGE_CONTENT


# -- votes --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_thumbs_up_on_a_card_votes_and_removing_it_unvotes(discord_bot: Discord) -> None:
    await discord_bot.command("Dark mode")
    card = discord_bot.card(1)
    await discord_bot.react(card, "👍", "bob")
    await discord_bot.react(card, "👍🏽", "carol")
    assert discord_bot.lodestar.board.show(caller(), 1).demand == 3
    edit = discord_bot.fake.last(EDIT_MESSAGE)
    assert "demand **3**" in edit.json["embeds"][0]["description"]
    await discord_bot.react(card, "👍", "bob", added=False)
    assert discord_bot.lodestar.board.show(caller(), 1).demand == 2
    assert "demand **2**" in discord_bot.fake.last(EDIT_MESSAGE).json["embeds"][0]["description"]
    assert not discord_bot.fake.calls_to(OPEN_DM)  # a vote needs no DM


@pytest.mark.anyio
async def test_thumbs_up_on_a_captured_message_votes(discord_bot: Discord) -> None:
    said = discord_bot.fake.add_message(payloads.message("Bulk rename", author=person("bob")))
    await discord_bot.react(said, "💡", "carol")
    await discord_bot.react(said, "👍", "dave")
    assert sorted(discord_bot.lodestar.board.who(caller(), 1).people) == ["Bob", "Dave"]


@pytest.mark.anyio
async def test_card_buttons_vote_and_answer_who_and_show_privately(discord_bot: Discord) -> None:
    await discord_bot.command("Templates gallery")
    card = discord_bot.card(1)
    voted = await discord_bot.click("vote", 1, card, "bob")
    again = await discord_bot.click("vote", 1, card, "bob")
    who = await discord_bot.click("who", 1, card, "carol")
    show = await discord_bot.click("show", 1, card, "carol")
    assert voted.calls[0].ephemeral and voted.texts[0].startswith(
        "👍 Vote counted for #1: demand 2"
    )
    assert again.texts[0].startswith("You already vote for #1")
    assert who.texts[0] == "2 people behind #1: Alice, Bob"
    assert show.texts[0].startswith("#1 Templates gallery")
    assert "demand **2**" in discord_bot.fake.last(EDIT_MESSAGE).json["embeds"][0]["description"]


@pytest.mark.anyio
async def test_vote_and_unvote_by_command(discord_bot: Discord) -> None:
    await discord_bot.command("Presenter mode")
    assert (await discord_bot.command("vote #1", who="bob")).text.startswith(
        "👍 Vote counted for #1: demand 2"
    )
    assert (await discord_bot.command("unvote #1", who="bob")).text.startswith(
        "Vote removed from #1: demand 1"
    )


@pytest.mark.anyio
async def test_card_buttons_follow_their_item_when_a_board_join_renumbers_it(
    discord_bot: Discord,
) -> None:
    from bot.context import Caller

    console = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    discord_bot.lodestar.board.capture(console, "export to pdf")
    code = discord_bot.lodestar.router.command(console, "feedback", "board join")[0].data["code"]
    await discord_bot.command("dark mode")
    card = discord_bot.card(1)
    joined = await discord_bot.command(f"board join {code}", permissions=MANAGE)
    assert "Your item is now #2" in joined.text
    voted = await discord_bot.click("vote", 1, card, "bob")  # the button still says 1
    assert voted.texts[0].startswith("👍 Vote counted for #2: demand 2")
    assert discord_bot.lodestar.board.show(console, 1).demand == 1


# -- admins -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_merge_needs_manage_server_or_the_admin_role(
    app: Lodestar, fake_discord: FakeDiscord
) -> None:
    async for d in open_discord(app, fake_discord, admin_role="Product"):
        await d.command("dark mode")
        await d.command("night theme", who="bob")
        refused = await d.command("merge #2 into #1", who="bob")
        assert refused.calls[0].ephemeral
        assert refused.text == "Only board admins can merge items."
        assert d.lodestar.board.show(caller(), 2).merged_into is None
        merged = await d.command("merge #2 into #1", who="alice", permissions=MANAGE)
        assert merged.text.startswith("🔗 #2 merged into #1: #1 now has demand 2")
        await d.command("unmerge #2", who="bob", roles=[payloads.PRODUCT_ROLE_ID])
        assert d.lodestar.board.show(caller(), 2).merged_into is None
        shown = json.dumps(d.fake.last(EDIT_MESSAGE).json, ensure_ascii=False)
        assert "demand **1**" in shown  # every card of both groups redrawn


# -- ship -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ship_dms_each_person_once_replies_to_sources_and_announces(
    discord_bot: Discord,
) -> None:
    d = discord_bot
    said = d.fake.add_message(payloads.message("Export to PDF", author=person("bob")))
    await d.react(said, "💡", "alice")  # #1, asked by Bob
    await d.command("PDF export please", who="carol")  # #2
    await d.command("vote #1", who="dave")
    await d.command("vote #2", who="bob")  # Bob twice behind the group: one DM
    await d.command("merge #2 into #1", permissions=MANAGE)
    await d.command(f"announce <#{CHANNEL_ID}>", permissions=MANAGE)
    d.fake.block_dms(CAROL_ID)
    d.fake.fail_next(CREATE_MESSAGE, 429, retry_after=0.1)
    shipped = await d.command("ship #1 It's live", permissions=MANAGE)
    assert shipped.bodies[0]["content"].startswith("🚀 #1 shipped")
    await d.bot.outbox.run_now()
    await d.settle()
    for user, count in ((BOB_ID, 1), (1_210_000_000_000_200_004, 1), (ALICE_ID, 0)):
        dms = [m for m in d.fake.dms_to(user) if "Shipped" in m["content"]]
        assert len(dms) == count, (user, dms)
    assert d.fake.dms_to(CAROL_ID) == []
    replies = [m for m in d.fake.messages_in(CHANNEL_ID) if "This shipped as #1" in m["content"]]
    assert [m["message_reference"]["message_id"] for m in replies] == [said["id"]]
    announced = [m for m in d.fake.messages_in(CHANNEL_ID) if m["content"].startswith("🚀 Shipped")]
    assert len(announced) == 1
    with d.lodestar.db.uow() as uow:
        assert uow.outbox.counts() == {"sent": 4, "failed": 1}


# -- safety -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_mentions_are_stored_verbatim_and_never_ping(discord_bot: Discord) -> None:
    nasty = f"@everyone <@{BOB_ID}> <@&{payloads.PRODUCT_ROLE_ID}> @here1 look"
    await discord_bot.command(nasty)
    await discord_bot.command("show #1", who="bob")
    await discord_bot.command(f"search {nasty}", who="bob")
    await discord_bot.command(f"vote #{nasty}", who="bob")
    assert discord_bot.lodestar.board.show(caller(), 1).text == nasty
    sent = everything_sent(discord_bot)
    assert sent
    for call in discord_bot.fake.calls:
        if call.method in ("POST", "PATCH") and call.json and call.route != OPEN_DM.split()[1]:
            assert not discord_bot.fake.pings(call).anyone, (call.route, call.json)
    for body in sent:
        assert "@everyone" not in content_of(body) and "<@" not in content_of(body)


@pytest.mark.anyio
async def test_a_gateway_reconnect_resumes_and_nothing_is_missed(discord_bot: Discord) -> None:
    await discord_bot.command("Dark mode")
    card = discord_bot.card(1)
    discord_bot.fake.drop_connection()
    await discord_bot.react(card, "👍", "bob")  # dispatched while the client reconnects
    await discord_bot.fake.wait_resumed_async()
    await discord_bot.settle()
    assert discord_bot.lodestar.board.show(caller(), 1).demand == 2
    assert (await discord_bot.command("vote #1", who="carol")).text.startswith("👍 Vote counted")


# -- conversation helpers ------------------------------------------------------------------


@pytest.mark.anyio
async def test_autocomplete_suggests_subcommands_then_open_items(discord_bot: Discord) -> None:
    await discord_bot.command("Dark mode")
    await discord_bot.command("Offline mode", who="bob")

    async def choices(text: str) -> list[dict]:
        answer = await discord_bot.interact(payloads.autocomplete("feedback", text))
        return answer.calls[0].json["data"]["choices"]

    assert [c["value"] for c in await choices("vo")] == ["vote "]
    offered = await choices("vote ")
    assert [(c["name"], c["value"]) for c in offered] == [
        ("#1 Dark mode (demand 1)", "vote #1"),
        ("#2 Offline mode (demand 1)", "vote #2"),
    ]
    assert [c["value"] for c in await choices("show #2")] == ["show #2"]


@pytest.mark.anyio
async def test_slow_work_is_deferred_then_followed_up(
    discord_bot: Discord, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adapters.discord.bot as discord_adapter

    monkeypatch.setattr(discord_adapter, "DEFER_AFTER", 0.0)
    answer = await discord_bot.command("Dark mode")
    assert answer.calls[0].json["type"] == 5 and answer.calls[0].ephemeral  # "thinking…"
    assert "Posted in the channel." in answer.texts
    assert any(t.startswith("📝 #1 logged") for t in answer.texts)
    exported = await discord_bot.command("export", permissions=MANAGE)
    assert exported.calls[0].json["type"] == 5
    (upload,) = [c for c in exported.calls if c.files]
    assert upload.files[0].filename == "feedback.csv" and upload.ephemeral


@pytest.mark.anyio
async def test_a_private_cards_buttons_follow_their_item_after_a_board_join(
    discord_bot: Discord,
) -> None:
    from bot.context import Caller

    await discord_bot.command("offline mode", who="alice")
    shown = await discord_bot.command("show #1", who="bob")  # a private card, with buttons
    console = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    discord_bot.lodestar.board.capture(console, "dark mode")
    code = discord_bot.lodestar.router.command(console, "feedback", "board join")[0].data["code"]
    await discord_bot.command(f"board join {code}", permissions=MANAGE)  # offline mode is #2 now
    body = shown.bodies[0]
    private_card = payloads.message(
        body["content"],
        author=payloads.bot_user(),
        components=body["components"],
        flags=payloads.EPHEMERAL,
    )
    vote_id = body["components"][0]["components"][0]["custom_id"]
    pressed = await discord_bot.interact(
        payloads.button_click(vote_id, private_card, invoker=person("bob"))
    )
    assert pressed.texts[0].startswith("👍 Vote counted for #2: demand 2")
    assert discord_bot.lodestar.board.who(console, 1).people == ["pm"]  # dark mode untouched


@pytest.mark.anyio
async def test_a_form_submitted_after_a_restart_is_still_logged(
    app: Lodestar, fake_discord: FakeDiscord
) -> None:
    async for before in open_discord(app, fake_discord):
        opened = await before.command(None)
    form = opened.calls[0].json["data"]
    field = form["components"][0]["components"][0]["custom_id"]
    async for after in open_discord(app, fake_discord):  # a new process: no form in memory
        submitted = await after.interact(
            payloads.modal_submit(form["custom_id"], {field: "Offline mode"}, invoker=person("bob"))
        )
        assert submitted.bodies[0]["content"].startswith("📝 #1 logged: “Offline mode”")
    assert app.board.show(caller(), 1).requester == "Bob"


@pytest.mark.anyio
async def test_a_bulb_where_lodestar_may_not_post_logs_and_tells_the_reactor(
    discord_bot: Discord,
) -> None:
    said = discord_bot.fake.add_message(payloads.message("please add SSO", author=person("bob")))
    undo = discord_bot.fake.fail_for(CREATE_MESSAGE_IN_GENERAL, 403, code=50013)
    await discord_bot.react(said, "💡", "carol")
    undo()
    assert [v.text for v in discord_bot.lodestar.board.items(caller())] == ["please add SSO"]
    (dm,) = discord_bot.fake.dms_to(CAROL_ID)
    assert dm["content"].startswith("📝 Logged as #1, but I can't post its card in that channel")
    assert dm["embeds"][0]["title"] == "#1 please add SSO"


@pytest.mark.anyio
async def test_odd_reactions_and_messages_get_a_fitting_answer(discord_bot: Discord) -> None:
    said = discord_bot.fake.add_message(payloads.message("dark mode", author=person("bob")))
    await discord_bot.react(said, {"name": "bulb", "id": "1234567890"}, "carol")  # a custom one
    assert discord_bot.lodestar.board.items(caller()) == []
    ghost = payloads.message("deleted meanwhile", author=person("bob"))  # never stored
    await discord_bot.react(ghost, "💡", "carol")
    assert discord_bot.fake.dms_to(CAROL_ID)[-1]["content"].startswith("That message is gone")
    pictures = discord_bot.fake.add_message(
        payloads.message("", author=person("bob"), embeds=[{"title": "a screenshot"}])
    )
    answer = await discord_bot.interact(payloads.message_command(pictures, invoker=person("carol")))
    assert answer.calls[0].ephemeral and answer.text.startswith("That message has no text to log")
    assert discord_bot.lodestar.board.items(caller()) == []


# -- the scheduler's messenger: REST only, no gateway -------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("named", ["general", "#general", "#General"])
async def test_the_schedulers_messenger_finds_a_channel_by_name_through_rest(
    app: Lodestar, fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch, named: str
) -> None:
    """``lodestar scheduler`` talks to Discord through REST alone, so it has no guild
    cache: a digest scheduled for ``general`` (the config's way) is still posted there."""
    from adapters.scheduler import platform_messengers
    from bot.notify.ports import ChannelPost, Undeliverable
    from bot.replies import public

    monkeypatch.setenv("DISCORD_TOKEN", payloads.BOT_TOKEN)
    monkeypatch.setenv("DISCORD_API_URL", fake_discord.api_url)
    messenger = (await platform_messengers(app))["discord"]
    try:
        where = ChannelPost("discord", str(payloads.GUILD_ID), named, key="digest:1:2026-12-01")
        posted = await messenger.send_to_channel(where, public("☀️ Daily digest"))
        assert posted is not None and posted[0] == str(CHANNEL_ID)
        (sent,) = fake_discord.calls_to(CREATE_MESSAGE)
        assert sent.params["channel_id"] == str(CHANNEL_ID)
        nowhere = ChannelPost("discord", str(payloads.GUILD_ID), "nope", key="digest:1:x")
        with pytest.raises(Undeliverable, match="there is no channel 'nope'"):
            await messenger.send_to_channel(nowhere, public("☀️ Daily digest"))
    finally:
        await messenger.client.close()  # type: ignore[attr-defined]
