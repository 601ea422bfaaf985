"""Duplicate suggestions: a per-board in-memory index kept in step with the database.

Each process builds a board's index once and then only adds the items created since
(by id), so several web workers stay correct without coordinating.

Building takes seconds on a big board (100,000 items: the texts read and analysed). By
default it happens on first use, inline (the console, the command line, tests). A server
calls ``build_in_background`` at start: from then on every build (at start, for a new
board, after a board join) runs on a worker thread, and until a board's index is ready
its searches find nothing, so a capture is answered at once, without suggestions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from bot.feedback.duplicates import DuplicateIndex
from storage.repositories import BoardRepository

log = logging.getLogger(__name__)

#: Every item text of a board, read in a transaction of its own: ``(item id, text)``.
TextsOf = Callable[[int], list[tuple[int, str]]]


class DuplicateFinder:
    def __init__(self) -> None:
        self._indexes: dict[int, tuple[DuplicateIndex, int]] = {}
        self._lock = threading.Lock()
        self._texts_of: TextsOf | None = None
        self._pool: Executor | None = None
        self._building: dict[int, Future[None]] = {}

    def search(
        self, repo: BoardRepository, text: str, limit: int, exclude: set[int]
    ) -> list[tuple[int, float]]:
        """(item id, score) of the most similar items on the repository's board; none
        while the board's index is being built in the background."""
        with self._lock:
            index = self._refresh(repo)
            if index is None:
                return []
            return [(m.key, m.score) for m in index.search(text, limit, exclude=exclude)]

    def build_in_background(
        self, texts_of: TextsOf, boards: Iterable[int], pool: Executor | None = None
    ) -> Future[None]:
        """From now on build indexes on ``pool`` (one worker thread by default), starting
        with ``boards``; the future is done when those are built."""
        with self._lock:
            self._texts_of = texts_of
            self._pool = pool or ThreadPoolExecutor(1, thread_name_prefix="lodestar-index")
            started = [self._schedule(board_id) for board_id in boards]
        return _all_of(started)

    def ready(self, board_id: int) -> bool:
        """True when the board's index is built (it may lag behind by the newest items)."""
        with self._lock:
            return board_id in self._indexes and board_id not in self._building

    def _refresh(self, repo: BoardRepository) -> DuplicateIndex | None:
        board_id = repo.board_id
        if board_id in self._building:
            return None
        index, seen = self._indexes.get(board_id, (None, 0))
        if index is None:
            if self._texts_of is not None:
                self._schedule(board_id)
                return None
            index = DuplicateIndex()
        for item_id, text in repo.texts_since(seen):
            index.add(item_id, text)
            seen = max(seen, item_id)
        if len(index) != repo.items_ever():
            # Items arrived below the high-water mark (a board joined this one in
            # another process, or ids committed out of order): start again.
            if self._texts_of is not None:
                self._indexes.pop(board_id, None)
                self._schedule(board_id)
                return None
            index, seen = _built(repo.texts_since(0))
        self._indexes[board_id] = (index, seen)
        return index

    def _schedule(self, board_id: int) -> Future[None]:
        """Build a board's index on the pool (called with the lock held)."""
        running = self._building.get(board_id)
        if running is not None:
            return running
        assert self._pool is not None and self._texts_of is not None
        texts_of = self._texts_of
        future = self._pool.submit(self._build, board_id, texts_of)
        self._building[board_id] = future
        return future

    def _build(self, board_id: int, texts_of: TextsOf) -> None:
        try:
            built = _built(texts_of(board_id))
        except Exception:
            log.exception("building the duplicate index of board %s failed", board_id)
            with self._lock:
                self._building.pop(board_id, None)  # the next search tries again
            raise
        with self._lock:
            self._indexes[board_id] = built
            self._building.pop(board_id, None)

    def forget(self, board_id: int) -> None:
        """Drop a board's index (its items moved to another board)."""
        with self._lock:
            self._indexes.pop(board_id, None)


def _built(texts: Iterable[tuple[int, str]]) -> tuple[DuplicateIndex, int]:
    index, seen = DuplicateIndex(), 0
    for item_id, text in texts:
        index.add(item_id, text)
        seen = max(seen, item_id)
    return index, seen


def _all_of(futures: list[Future[None]]) -> Future[None]:
    """A future done when every one of ``futures`` is (failed when one failed)."""
    done: Future[None] = Future()
    left = [len(futures)]
    lock = threading.Lock()

    def finished(future: Future[None]) -> None:
        error = future.exception()
        with lock:
            left[0] -= 1
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            elif left[0] == 0:
                done.set_result(None)

    if not futures:
        done.set_result(None)
    for future in futures:
        future.add_done_callback(finished)
    return done
