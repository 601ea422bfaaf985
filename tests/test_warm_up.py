"""Slow preparation off the ack path: duplicate indexes built in the background, long
reads that never hold up writers. Through the core, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from bot.app import Lodestar
from bot.context import Caller

ANA = Caller("console", "acme", "ana", "ana")
BO = Caller("console", "acme", "bo", "bo")


def _gated_pool() -> tuple[ThreadPoolExecutor, threading.Event]:
    """One worker, busy until the event is set: what it is given next waits."""
    gate = threading.Event()
    pool = ThreadPoolExecutor(1)
    pool.submit(gate.wait)
    return pool, gate


def test_until_its_index_is_built_a_board_captures_without_suggestions(app: Lodestar) -> None:
    app.board.capture(ANA, "dark mode for the editor")
    fresh = Lodestar.build(app.db, app.clock)  # another process: nothing in memory
    pool, gate = _gated_pool()

    warming = fresh.router.warm_up(pool)
    waiting = fresh.board.capture(BO, "a dark mode for the editor please")
    gate.set()
    warming.result(timeout=30)
    built = fresh.board.capture(BO, "dark mode in the editor")
    pool.shutdown()

    assert waiting.suggestions == ()
    assert [s.number for s in built.suggestions][:1] == [1]


def test_after_warm_up_a_board_join_rebuilds_in_the_background(app: Lodestar) -> None:
    admin = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    elsewhere = Caller("console", "globex", "kim", "kim", is_platform_admin=True)
    app.board.capture(ANA, "dark mode for the editor")
    app.board.capture(elsewhere, "export the board as pdf")
    pool, gate = _gated_pool()
    gate.set()
    app.router.warm_up(pool).result(timeout=30)
    code = app.router.command(admin, "feedback", "board join")[0].data["code"]
    app.router.command(elsewhere, "feedback", f"board join {code}")  # drops both indexes
    gate.clear()
    pool.submit(gate.wait)

    waiting = app.board.capture(ANA, "pdf export of the board")
    gate.set()
    pool.shutdown(wait=True)
    built = app.board.capture(BO, "export the whole board to pdf")

    assert waiting.suggestions == ()
    assert [s.text for s in built.suggestions][:1] == ["export the board as pdf"]


def test_a_long_read_never_holds_up_a_writer(app: Lodestar) -> None:
    app.board.capture(ANA, "dark mode")
    wrote = threading.Event()

    def write() -> None:
        app.board.capture(BO, "offline mode")
        wrote.set()

    with app.db.reader() as uow:
        uow.session.execute(text("SELECT count(*) FROM items")).scalar()  # the read began
        writer = threading.Thread(target=write)
        writer.start()
        finished_in_time = wrote.wait(timeout=5)
    writer.join()

    assert finished_in_time
