"""Duplicate suggestions for feedback items (bot/feedback/duplicates.py)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.feedback.duplicates import MIN_SCORE, DuplicateIndex, Match, stem, words

BOARD = [
    (1, "Align shapes on a grid"),
    (2, "Dark mode for the editor"),
    (3, "Export the board as PDF"),
    (4, "Keyboard shortcuts for zooming in and out"),
    (5, "Sign in with Google"),
    (6, "App crashes when uploading a large image"),
    (7, "Support multiple workspaces"),
    (8, "Reorder columns by drag and drop"),
    (9, "Show unread count in the sidebar"),
    (10, "Weekly email digest of new comments"),
]


@pytest.fixture
def board() -> DuplicateIndex:
    ix = DuplicateIndex()
    for key, text in BOARD:
        ix.add(key, text)
    return ix


def keys(matches: list[Match]) -> list[int]:
    return [m.key for m in matches]


def test_snap_to_grid_finds_align_on_grid(board: DuplicateIndex) -> None:
    assert 1 in keys(board.search("snap to grid"))


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("night theme please", 2),
        ("hotkey to zoom", 4),
        ("login using my google account", 5),
        ("download board to pdf", 3),
        ("the app crashed while I uploaded a big picture", 6),
        ("drag & drop to re-order columns", 8),
    ],
)
def test_reworded_requests_find_their_item(board: DuplicateIndex, said: str, expected: int) -> None:
    assert expected in keys(board.search(said))


def test_best_match_first_and_scores_in_range(board: DuplicateIndex) -> None:
    found = board.search("dark mode")
    assert found and found[0].key == 2
    assert all(MIN_SCORE <= m.score <= 1.0 for m in found)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


@pytest.mark.parametrize(
    "text",
    ["the weather is nice today", "lunch at noon?", "great job everyone", "ok", "1234"],
)
def test_unrelated_text_gets_no_suggestion(board: DuplicateIndex, text: str) -> None:
    assert board.search(text) == []


def test_empty_index_and_empty_query() -> None:
    ix = DuplicateIndex()
    assert ix.search("dark mode") == []
    assert len(ix) == 0
    ix.add(1, "dark mode")
    assert ix.search("") == []
    assert ix.search("   ") == []
    assert ix.search("!!! ???") == []


def test_discard_removes_and_is_idempotent(board: DuplicateIndex) -> None:
    assert 2 in board
    board.discard(2)
    assert 2 not in board
    assert 2 not in keys(board.search("dark mode for the editor"))
    board.discard(2)
    board.discard(12345)
    assert len(board) == len(BOARD) - 1


def test_exclude(board: DuplicateIndex) -> None:
    board.add(11, "Dark theme for the editor")
    assert {2, 11} <= set(keys(board.search("editor dark mode")))
    assert keys(board.search("editor dark mode", exclude={2})) == [11]
    assert board.search("editor dark mode", exclude=[2, 11]) == []


def test_readding_a_key_replaces_its_text(board: DuplicateIndex) -> None:
    board.add(2, "Export to CSV")
    assert len(board) == len(BOARD)
    assert 2 not in keys(board.search("dark mode"))
    assert 2 in keys(board.search("csv export"))


def test_limit(board: DuplicateIndex) -> None:
    board.add(11, "Dark theme")
    board.add(12, "Dark mode on mobile")
    assert len(board.search("dark mode", limit=1)) == 1
    assert len(board.search("dark mode")) <= 3
    assert board.search("dark mode", limit=0) == []


def test_chat_markup_does_not_crash_or_match(board: DuplicateIndex) -> None:
    said = "<!channel> <@U024BE7LH|bob> see <https://example.com/x|dark mode> :tada: <#C123>"
    assert 2 in keys(board.search(said))
    assert board.search("<!channel> <!here> <@U024BE7LH> :+1:") == []
    board.add(99, "<@U1> <!everyone> :smile:")
    assert 99 in board


def test_huge_text(board: DuplicateIndex) -> None:
    huge = ("dark mode please " * 300)[:4000]
    assert len(huge) == 4000
    assert 2 in keys(board.search(huge))
    board.add(50, "x" * 4000)
    board.add(51, huge)
    assert board.search("y" * 4000) == []


def test_deterministic_ties() -> None:
    a, b = DuplicateIndex(), DuplicateIndex()
    for k in (5, 3, 9):
        a.add(k, "Dark mode")
    for k in (9, 3, 5):
        b.add(k, "Dark mode")
    assert a.search("dark mode") == b.search("dark mode")
    assert keys(a.search("dark mode")) == [3, 5, 9]


def test_words_and_stem() -> None:
    assert words("Can't <@U1> EXPORT naïve :tada: https://x.y/z") == ["can't", "export", "naive"]
    assert stem("crashes") == stem("crashing") == stem("crash")
    assert stem("shortcuts") == stem("shortcut")
    assert stem("saving") == stem("save")


def test_many_discards_compact_and_stay_correct() -> None:
    ix = DuplicateIndex()
    for i in range(3000):
        ix.add(i, f"item number {i} about topic{i % 50}")
    for i in range(0, 2900):
        ix.discard(i)
    assert len(ix) == 100
    found = ix.search("topic7 item")
    assert found and all(m.key >= 2900 for m in found)
    ix.add(5, "dark mode")
    assert keys(ix.search("dark mode")) == [5]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=15), st.text(max_size=80))
def test_any_text_is_safe(texts: list[str], query: str) -> None:
    ix = DuplicateIndex()
    for i, t in enumerate(texts):
        ix.add(i, t)
    found = ix.search(query)
    assert len(found) <= 3
    assert all(0.0 <= m.score <= 1.0 and m.key in ix for m in found)


def test_search_is_fast_on_a_mid_sized_board() -> None:
    ix = DuplicateIndex()
    topics = [
        "dark mode",
        "export pdf",
        "keyboard shortcut",
        "sign in",
        "crash on start",
        "drag and drop",
        "email digest",
        "unread badge",
        "grid snapping",
        "sync devices",
    ]
    for i in range(5000):
        ix.add(i, f"{topics[i % 10]} {topics[(i * 7) % 10]} variant {i}")
    t0 = time.perf_counter()
    for q in topics:
        ix.search(q)
    assert (time.perf_counter() - t0) / len(topics) < 0.05


def test_longest_phrase_wins_over_its_last_word() -> None:
    """ "trash folder" means the trash, not a folder: a folder request must not match."""
    ix = DuplicateIndex()
    ix.add(1, "add trash folder")
    ix.add(2, "nested folders for notes")
    found = keys(ix.search("a recycle bin is needed"))
    assert found and found[0] == 1
    assert 2 not in found


def test_settings_ui_synonyms_meet() -> None:
    ix = DuplicateIndex()
    ix.add(1, "Implement Settings UI")
    ix.add(2, "Settings sync across devices")
    assert keys(ix.search("Create a preferences window"))[:1] == [1]


def test_optional_embeddings_module_is_optional() -> None:
    from bot.feedback import embeddings

    assert isinstance(embeddings.available(), bool)  # never raises without the extra
