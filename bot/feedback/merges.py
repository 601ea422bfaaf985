"""Merging duplicates into one group, and taking them apart again, exactly."""

from __future__ import annotations

from bot.clock import Clock
from bot.feedback import demand
from bot.feedback.read import item_view
from bot.feedback.views import ItemView
from bot.scope import ADMIN, Scope, Scopes, requires


class MergeService:
    def __init__(self, clock: Clock, scopes: Scopes) -> None:
        self.clock = clock
        self.scopes = scopes

    @requires(ADMIN, "merge items")
    def merge(self, scope: Scope, number: int, into: int) -> tuple[ItemView, ItemView]:
        """Returns the merged item's view and the target's."""
        item, target = scope.item(number), scope.item(into)
        demand.merge(scope.groups, item, target, scope.person.id, self.clock.now())
        return self._fresh(scope, item.id, target.id)

    @requires(ADMIN, "unmerge items")
    def unmerge(self, scope: Scope, number: int) -> tuple[ItemView, ItemView]:
        """Returns the unmerged item's view and the one it was merged into."""
        item = scope.item(number)
        parent_id = demand.unmerge(scope.groups, item, scope.person.id, self.clock.now())
        return self._fresh(scope, item.id, parent_id)

    @staticmethod
    def _fresh(scope: Scope, *item_ids: int) -> tuple[ItemView, ItemView]:
        scope.uow.session.flush()
        scope.uow.session.expire_all()
        first, second = (item_view(scope, scope.repo.item_by_id(i)) for i in item_ids)
        return first, second
