"""Duplicate suggestions: a per-board in-memory index kept in step with the database.

Each process builds a board's index on first use and then only adds the items
created since (by id), so several web workers stay correct without coordinating.
"""

from __future__ import annotations

import threading

from bot.feedback.duplicates import DuplicateIndex
from storage.repositories import BoardRepository


class DuplicateFinder:
    def __init__(self) -> None:
        self._indexes: dict[int, tuple[DuplicateIndex, int]] = {}
        self._lock = threading.Lock()

    def search(
        self, repo: BoardRepository, text: str, limit: int, exclude: set[int]
    ) -> list[tuple[int, float]]:
        """(item id, score) of the most similar items on the repository's board."""
        with self._lock:
            index = self._refresh(repo)
            return [(m.key, m.score) for m in index.search(text, limit, exclude=exclude)]

    def _refresh(self, repo: BoardRepository) -> DuplicateIndex:
        index, seen = self._indexes.get(repo.board_id, (None, 0))
        if index is None:
            index = DuplicateIndex()
        for item_id, text in repo.texts_since(seen):
            index.add(item_id, text)
            seen = max(seen, item_id)
        if len(index) != repo.items_ever():
            # Items arrived below the high-water mark (a board joined this one in
            # another process, or ids committed out of order): start again.
            index, seen = DuplicateIndex(), 0
            for item_id, text in repo.texts_since(0):
                index.add(item_id, text)
                seen = max(seen, item_id)
        self._indexes[repo.board_id] = (index, seen)
        return index

    def forget(self, board_id: int) -> None:
        """Drop a board's index (its items moved to another board)."""
        with self._lock:
            self._indexes.pop(board_id, None)
