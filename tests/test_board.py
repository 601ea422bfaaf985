"""The feedback board, as people use it: capture, vote, merge, status, ship."""

from __future__ import annotations

import pytest

from bot.app import Lodestar
from tests.conversation import Chat


@pytest.fixture
def chat(app: Lodestar) -> Chat:
    return Chat(app)


def demand(chat: Chat, number: int) -> int:
    return chat.reply(f"/feedback show #{number}")["card"]["demand"]


def test_feedback_logs_numbered_items_with_the_caller_as_requester(chat: Chat) -> None:
    chat.as_("ana")
    first = chat.reply("/feedback dark mode for the editor")
    assert first["kind"] == "item_created" and first["private"] is False
    assert first["card"] == {
        "number": 1,
        "text": "dark mode for the editor",
        "status": "new",
        "demand": 1,
        "tags": [],
        "merged_into": None,
    }
    assert chat.reply("/feedback export to PDF")["card"]["number"] == 2
    assert "Requested by: ana" in chat.text("/feedback show #1")


def test_a_subcommand_whose_arguments_do_not_parse_is_feedback(chat: Chat) -> None:
    chat.as_("ana")
    reply = chat.say("/feedback vote for dark mode")[0]
    assert reply["kind"] == "item_created"
    assert reply["card"]["text"] == "vote for dark mode"
    assert chat.say("/feedback top of the list should be sticky")[0]["kind"] == "item_created"


def test_feedback_alone_asks_for_the_text_with_a_form(chat: Chat) -> None:
    reply = chat.reply("/feedback")
    assert reply["kind"] == "form" and reply["private"] is True
    assert reply["form"]["kind"] == "feedback"
    assert chat.app.board.items(chat.session.caller) == []


def test_votes_are_one_per_person_and_idempotent(chat: Chat) -> None:
    chat.as_("ana").say("/feedback dark mode")
    chat.as_("bo")
    assert chat.reply("/feedback vote #1")["card"]["demand"] == 2
    again = chat.reply("/feedback vote #1")
    assert again["changed"] is False and "already" in again["text"]
    assert demand(chat, 1) == 2
    assert chat.reply("/feedback unvote #1")["card"]["demand"] == 1
    assert chat.reply("/feedback unvote #1")["changed"] is False
    assert demand(chat, 1) == 1


def test_the_requester_voting_on_their_own_item_counts_once(chat: Chat) -> None:
    chat.as_("ana").say("/feedback dark mode")
    assert chat.reply("/feedback vote #1")["card"]["demand"] == 1
    assert chat.reply("/feedback show #1")["fields"][2] == {"name": "Votes here", "value": "1"}


def test_reacting_bulb_logs_the_message_with_its_author_as_requester(chat: Chat) -> None:
    chat.as_("cy").say("the export button is hard to find")
    chat.as_("ana")
    reply = chat.reply(":react 💡 ^")
    assert reply["kind"] == "item_created" and reply["thread_of"].startswith("m")
    show = chat.text("/feedback show #1")
    assert "Requested by: cy" in show and "reaction in console general by ana" in show
    # The same message captured again is the same item.
    chat.as_("bo")
    again = chat.reply(":react bulb ^")
    assert again["kind"] == "exists" and again["card"]["number"] == 1


def test_thumbs_up_on_a_card_or_a_captured_message_votes(chat: Chat) -> None:
    chat.as_("cy").say("please support SSO")
    chat.as_("ana").say(":react 💡 ^")
    chat.as_("bo")
    assert chat.reply(":react 👍 ^")["card"]["demand"] == 2
    chat.as_("dee")
    assert chat.reply(":react +1 #1")["card"]["demand"] == 3
    assert chat.reply(":unreact 👍 #1")["card"]["demand"] == 2
    assert chat.say(":react 🎉 #1") == []
    assert demand(chat, 1) == 2


def test_merge_sums_unique_people_and_unmerge_restores_exactly(chat: Chat) -> None:
    chat.as_("ana").say("/feedback snap to grid")
    chat.as_("bo").say("/feedback align shapes on a grid")
    chat.as_("ana").say("/feedback vote #2")
    chat.as_("cy").say("/feedback vote #2")
    assert (demand(chat, 1), demand(chat, 2)) == (1, 3)
    chat.as_("pm", admin=True)
    merged = chat.reply("/feedback merge #2 into #1")
    assert merged["card"]["demand"] == 3  # ana, bo, cy: ana counts once
    assert demand(chat, 2) == 3  # a merged item shows its group's demand
    assert "Merged here: #2" in chat.text("/feedback show #1")
    assert chat.reply("/feedback who #2")["people"] == ["ana", "bo", "cy"]
    # Voting on the merged item counts for the group, once per person.
    chat.as_("dee").say("/feedback vote #2")
    chat.as_("cy").say("/feedback vote #1")
    assert demand(chat, 1) == 4
    chat.as_("pm", admin=True)
    chat.say("/feedback unmerge #2")
    assert (demand(chat, 1), demand(chat, 2)) == (2, 4)


def test_merges_nest_and_unmerge_takes_the_whole_subtree(chat: Chat) -> None:
    for who, what in [("a", "one"), ("b", "two"), ("c", "three")]:
        chat.as_(who).say(f"/feedback item {what}")
    chat.as_("pm", admin=True)
    chat.say("/feedback merge #3 into #2")
    chat.say("/feedback merge #2 into #1")
    assert demand(chat, 1) == 3
    chat.say("/feedback unmerge #2")
    assert (demand(chat, 1), demand(chat, 2), demand(chat, 3)) == (1, 2, 2)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("/feedback merge #1 into #1", "can't be merged into itself"),
        ("/feedback merge #1 into #9", "There is no item #9"),
        ("/feedback merge #2 into #3", "already merged into #1; unmerge it first"),
        ("/feedback merge #3 into #2", "#2 is merged into #1; merge into #1 instead"),
        ("/feedback merge #1 into #2", "would make a cycle"),
        ("/feedback unmerge #3", "#3 is not merged"),
    ],
)
def test_bad_merges_are_refused_with_a_reason_and_change_nothing(
    chat: Chat, line: str, reason: str
) -> None:
    for what in ("one", "two", "three"):
        chat.as_(what).say(f"/feedback item {what}")
    chat.as_("pm", admin=True).say("/feedback merge #2 into #1")
    before = chat.reply("/feedback list all")["items"]
    reply = chat.reply(line)
    assert reply["kind"] == "error" and reply["private"] is True
    assert reason in reply["text"]
    assert chat.reply("/feedback list all")["items"] == before


@pytest.mark.parametrize(
    "line",
    [
        "/feedback merge #2 into #1",
        "/feedback unmerge #1",
        "/feedback status #1 planned",
        "/feedback ship #1",
        "/feedback tag #1 +ux",
        "/feedback link #1 active_accounts",
        "/feedback export",
        "/feedback announce launches",
        "/feedback admins add bo",
        "/feedback board join",
    ],
)
def test_admin_commands_are_refused_privately_for_others(chat: Chat, line: str) -> None:
    chat.as_("ana").say("/feedback one")
    chat.say("/feedback two")
    before = chat.app.board.items(chat.session.caller)
    reply = chat.as_("bo").reply(line)
    assert reply["kind"] == "error" and reply["private"] is True
    assert reply["text"].startswith("Only board admins can")
    assert reply["text"].count(".") == 1  # one sentence
    assert chat.app.board.items(chat.session.caller) == before


def test_configured_admins_can_act_without_platform_rights(chat: Chat) -> None:
    chat.as_("ana").say("/feedback one")
    chat.as_("root", admin=True).say("/feedback admins add bo")
    assert chat.as_("bo").reply("/feedback status #1 planned")["kind"] == "status"


def test_status_changes_are_kept_in_history(chat: Chat) -> None:
    chat.as_("ana").say("/feedback SSO login")
    chat.as_("pm", admin=True)
    assert chat.text("/feedback status #1 planned Q1 roadmap") == "#1 is now planned (was new)."
    chat.say("/feedback status #1 in-progress")
    show = chat.text("/feedback show #1")
    assert "History: 2026-11-02 planned: Q1 roadmap" in show
    assert "History: 2026-11-02 in-progress" in show
    assert "already in-progress" in chat.text("/feedback status #1 in-progress")
    assert "Use /feedback ship #1" in chat.text("/feedback status #1 shipped")


def test_board_views_list_filter_search_and_page(chat: Chat) -> None:
    chat.as_("ana")
    for n in range(1, 24):
        chat.say(f"/feedback request number {n}")
    chat.as_("pm", admin=True)
    chat.say("/feedback tag #5 +billing +ux")
    chat.say("/feedback tag #5 -ux")
    chat.say("/feedback status #6 declined")
    chat.as_("bo").say("/feedback vote #7")
    top = chat.reply("/feedback top 3")
    assert [c["number"] for c in top["items"]] == [7, 1, 2]
    page3 = chat.reply("/feedback list 3")
    assert page3["text"].startswith("Open items, page 3 of 3 (22):")
    assert [c["number"] for c in chat.reply("/feedback list declined")["items"]] == [6]
    assert [c["number"] for c in chat.reply("/feedback list tag:billing")["items"]] == [5]
    assert chat.reply("/feedback list tag:ux")["text"] == "No open tagged ux items."
    assert [c["number"] for c in chat.reply("/feedback search number 12")["items"]] == [12]
    assert "Nothing matches" in chat.text("/feedback search zebra")


def test_link_mute_and_help(chat: Chat) -> None:
    chat.as_("ana").say("/feedback faster onboarding")
    chat.as_("pm", admin=True)
    assert chat.text("/feedback link #1 activation_rate") == "#1 is linked to activation_rate."
    assert "Linked metric: activation_rate" in chat.text("/feedback show #1")
    assert chat.text("/feedback link #1 none") == "#1 is no longer linked to a metric."
    assert chat.text("/feedback mute") == "You won't get ship notices by DM."
    assert chat.text("/feedback mute") == "You won't get ship notices by DM (no change)."
    assert chat.text("/feedback unmute") == "You will get ship notices by DM."
    help_text = chat.text("/feedback help")
    for word in (
        "vote #N",
        "top",
        "list",
        "search",
        "show #N",
        "who #N",
        "merge",
        "unmerge",
        "status",
        "ship",
        "tag",
        "link",
        "mute",
        "connect",
        "board join",
        "export",
    ):
        assert word in help_text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/feedback vote #12", "There is no item #12 on this board."),
        ("/feedback show #0", "There is no item #0 on this board."),
        ("/feedback vote #abc", "“#abc” is not an item number: write it like #12."),
        ("/feedback who #1x", "“#1x” is not an item number: write it like #12."),
        ("/feedback   ", None),
    ],
)
def test_unknown_or_malformed_numbers_get_one_clear_private_sentence(
    chat: Chat, line: str, expected: str | None
) -> None:
    reply = chat.reply(line)
    assert reply["private"] is True
    if expected is None:
        assert reply["kind"] == "form"
    else:
        assert reply == {"kind": "error", "text": expected, "private": True}
    assert chat.app.board.items(chat.session.caller) == []


def test_text_over_the_limit_is_refused_and_the_limit_stated(chat: Chat) -> None:
    reply = chat.reply("/feedback " + "x" * 4001)
    assert reply["kind"] == "error"
    assert "4,000 characters; yours has 4,001" in reply["text"]
    assert chat.reply("/feedback " + "y" * 4000)["kind"] == "item_created"


@pytest.mark.parametrize(
    "ping", ["<!channel>", "<!here>", "@everyone", "@here", "<@U123>", "<@&987>", "@Everyone"]
)
def test_mentions_are_stored_verbatim_but_never_echoed_as_pings(chat: Chat, ping: str) -> None:
    chat.as_("ana")
    replies = chat.say(f"/feedback please fix this {ping} now")
    replies += chat.say("/feedback show #1") + chat.say("/feedback top")
    replies += chat.say(f"/feedback search {ping}")
    for reply in replies:
        assert ping not in str(reply), reply
    views = chat.app.board.items(chat.session.caller)
    assert views[0].text == f"please fix this {ping} now"


def test_a_display_name_with_a_ping_is_not_echoed(chat: Chat) -> None:
    chat.as_("@everyone")
    for reply in chat.say("/feedback hello") + chat.say("/feedback who #1"):
        assert "@everyone" not in str(reply)


def test_export_replies_with_a_csv_file(chat: Chat) -> None:
    chat.as_("ana").say("/feedback one")
    reply = chat.as_("pm", admin=True).reply("/feedback export")
    assert reply["attachments"] == [
        {"filename": "feedback.csv", "mime": "text/csv", "bytes": reply["attachments"][0]["bytes"]}
    ]
    assert reply["text"] == "The board as CSV: 1 item."


def test_feedback_of_invisible_characters_only_is_empty(chat: Chat) -> None:
    reply = chat.reply("/feedback \u200b\u200d\ufeff")
    assert reply["kind"] == "error" and "nothing to log" in reply["text"]


def test_ship_and_status_need_a_hash_so_prose_stays_feedback(chat: Chat) -> None:
    chat.as_("ana").say("/feedback one")
    chat.say("/feedback two")
    chat.as_("pm", admin=True)
    assert chat.say("/feedback ship 2 factor auth")[0]["kind"] == "item_created"
    assert chat.say("/feedback status 2 planned people want it")[0]["kind"] == "item_created"
    assert chat.reply("/feedback show #2")["card"]["status"] == "new"


@pytest.mark.parametrize("line", ["/feedback top ²", "/feedback list ²", "/nsm chart ²"])
def test_unusual_digits_are_not_numbers(chat: Chat, line: str) -> None:
    for reply in chat.say(line):
        assert "Something went wrong" not in reply["text"]


def test_the_csv_export_never_hands_a_spreadsheet_a_formula(chat: Chat) -> None:
    chat.as_("ana").say('/feedback =HYPERLINK("http://x","click")')
    csv_text = chat.app.board.items(chat.session.caller)
    from bot.export import to_csv

    line = to_csv(csv_text).splitlines()[1]
    assert ",\"'=HYPERLINK(" in line


def test_tag_link_and_status_on_a_merged_item_act_on_its_group(chat: Chat) -> None:
    """Status, tags and the metric link are the group's: set through any of its items,
    seen on every one of them, and found by every view."""
    chat.as_("ana").say("/feedback dark mode")
    chat.as_("bo").say("/feedback night theme")
    chat.as_("pm", admin=True).say("/feedback merge #2 into #1")
    assert chat.text("/feedback tag #2 +ux") == "#2 (in #1's group) tags: ux."
    assert [c["number"] for c in chat.reply("/feedback list tag:ux")["items"]] == [1]
    assert chat.reply("/feedback show #1")["card"]["tags"] == ["ux"]
    assert chat.reply("/feedback show #2")["card"]["tags"] == ["ux"]
    assert chat.text("/feedback link #2 activation_rate") == (
        "#2 (in #1's group) is linked to activation_rate."
    )
    assert "Linked metric: activation_rate" in chat.text("/feedback show #1")
    assert chat.text("/feedback status #2 planned") == (
        "#1 (the group of #2) is now planned (was new)."
    )
    assert chat.reply("/feedback show #2")["card"]["status"] == "planned"
    # Unmerged, #2 is its own group again, with its own (empty) tags and link.
    chat.say("/feedback unmerge #2")
    assert chat.reply("/feedback show #2")["card"]["tags"] == []
    assert chat.reply("/feedback show #1")["card"]["tags"] == ["ux"]
