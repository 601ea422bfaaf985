"""Boards: separate by default, shared when joined; people counted once when connected."""

from __future__ import annotations

from bot.app import Lodestar
from bot.context import Caller
from tests.conversation import Chat


def test_two_boards_never_see_each_others_items_votes_or_numbers(app: Lodestar) -> None:
    acme, globex = Chat(app, "acme"), Chat(app, "globex")
    acme.as_("ana").say("/feedback acme wants dark mode")
    globex.as_("gus").say("/feedback globex wants sso")
    globex.as_("gil").say("/feedback globex wants dark mode too")
    assert acme.as_("bo").reply("/feedback vote #2")["text"] == "There is no item #2 on this board."
    assert [c["number"] for c in globex.reply("/feedback top")["items"]] == [1, 2]
    acme.say("/feedback vote #1")
    assert globex.reply("/feedback show #1")["card"]["demand"] == 1
    assert [c["text"] for c in acme.reply("/feedback search dark")["items"]] == [
        "acme wants dark mode"
    ]
    captured = acme.say("/feedback dark mode please")
    (suggested,) = [r for r in captured if r["kind"] == "suggestions"]
    assert suggested["suggestions"] == [1]  # never globex's "dark mode too"


def test_a_joined_workspace_shares_the_board_numbered_together(app: Lodestar) -> None:
    slack = Chat(app, "acme-slack")
    discord = Chat(app, "acme-discord")
    slack.as_("ana").say("/feedback dark mode")
    discord.as_("zed").say("/feedback community wants a public roadmap")
    code = slack.as_("pm", admin=True).reply("/feedback board join")["code"]
    joined = discord.as_("mod", admin=True).reply(f"/feedback board join {code}")
    assert joined["text"] == ("This workspace now shares acme-slack's board. Your item is now #2.")
    assert discord.reply("/feedback show #2")["card"]["text"] == "community wants a public roadmap"
    assert discord.as_("zed").say("/feedback community wants SSO")[0]["card"]["number"] == 3
    assert [c["number"] for c in slack.reply("/feedback list")["items"]] == [1, 2, 3]
    again = discord.as_("mod", admin=True).reply(f"/feedback board join {code}")
    assert again["text"] == "That code was already used: ask for a new one."


def test_join_codes_expire_and_must_be_real(app: Lodestar) -> None:
    slack, discord = Chat(app, "s"), Chat(app, "d")
    code = slack.as_("pm", admin=True).reply("/feedback board join")["code"]
    assert "not valid" in discord.as_("mod", admin=True).text("/feedback board join NOPE1234")
    app.clock.advance(minutes=16)
    assert "expired" in discord.text(f"/feedback board join {code}")


def test_a_connected_person_counts_once_on_a_shared_board(app: Lodestar) -> None:
    slack, discord = Chat(app, "acme-slack"), Chat(app, "acme-discord")
    code = slack.as_("pm", admin=True).reply("/feedback board join")["code"]
    discord.as_("mod", admin=True).say(f"/feedback board join {code}")
    slack.as_("ana").say("/feedback offline mode")
    discord.as_("ana-d").say("/feedback vote #1")
    assert slack.reply("/feedback show #1")["card"]["demand"] == 2
    mine = slack.as_("ana").reply("/feedback connect")
    assert mine["private"] is True
    done = discord.as_("ana-d").reply(f"/feedback connect {mine['code']}")
    assert done["text"] == (
        "Connected: you and your console (acme-slack) account now count as one person."
    )
    assert slack.reply("/feedback show #1")["card"]["demand"] == 1
    assert slack.reply("/feedback who #1")["people"] == ["ana"]
    # Still one vote per person: voting from the Slack side changes nothing.
    assert slack.as_("ana").reply("/feedback vote #1")["changed"] is False


def test_connecting_folds_duplicate_votes_into_one(app: Lodestar) -> None:
    a, b = Chat(app, "one"), Chat(app, "two")
    code = a.as_("pm", admin=True).reply("/feedback board join")["code"]
    b.as_("mod", admin=True).say(f"/feedback board join {code}")
    a.as_("kim").say("/feedback api access")
    a.as_("lee").say("/feedback vote #1")
    b.as_("lee2").say("/feedback vote #1")
    assert a.reply("/feedback show #1")["card"]["demand"] == 3
    code = a.as_("lee").reply("/feedback connect")["code"]
    b.as_("lee2").say(f"/feedback connect {code}")
    view = app.board.show(Caller("console", "one", "kim", "kim"), 1)
    assert (view.votes, view.demand) == (1, 2)
    assert "already yours" in a.as_("kim").text(
        "/feedback connect " + a.reply("/feedback connect")["code"]
    )


def test_another_process_sees_items_a_join_brought_in(app: Lodestar, database) -> None:  # type: ignore[no-untyped-def]
    other = Lodestar.build(database, app.clock)  # a second worker on the same database
    slack, discord = Chat(app, "one"), Chat(other, "two")
    # The joining board's item is older (a lower id) than everything worker 1 indexed.
    discord.as_("zed").say("/feedback a dark mode for the whole editor")
    slack.as_("ana").say("/feedback first idea")  # worker 1 indexes board one
    code = slack.as_("pm", admin=True).reply("/feedback board join")["code"]
    discord.as_("mod", admin=True).say(f"/feedback board join {code}")  # worker 2 joins
    captured = slack.as_("bo").say("/feedback dark mode for the editor please")
    (suggested,) = [r for r in captured if r["kind"] == "suggestions"]
    assert suggested["suggestions"] == [2]
