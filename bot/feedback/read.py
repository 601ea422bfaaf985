"""Item views, built from rows in as few queries as a list needs.

Status, demand, tags and the metric link are the group's: a merged item shows
its head's (see ``bot.feedback.demand``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.feedback.views import ItemView, SourceView
from storage.models import Item
from storage.repositories import BoardRepository
from storage.uow import UnitOfWork

#: Requester names by person id and tags by item id, when a query already has them.
Known = tuple[dict[int, str], dict[int, tuple[str, ...]]]


class Reader(Protocol):
    """A board seen inside a unit of work: a use case's ``Scope``, or ``BoardReader``."""

    @property
    def uow(self) -> UnitOfWork: ...

    @property
    def repo(self) -> BoardRepository: ...

    @property
    def board_id(self) -> int: ...


@dataclass
class BoardReader:
    """A board read by the operator (export), with no caller behind it."""

    uow: UnitOfWork
    repo: BoardRepository

    @property
    def board_id(self) -> int:
        return self.repo.board_id


def item_views(scope: Reader, items: list[Item], known: Known | None = None) -> list[ItemView]:
    """Views of ``items``; ``known`` gives the requesters' names and the heads' tags
    when the caller's query already fetched them."""
    repo = scope.repo
    heads = repo.items_by_ids(i.head_id for i in items if i.head_id not in (None, i.id))
    parents = repo.numbers(i.merged_into_id for i in items if i.merged_into_id)

    def head_of(item: Item) -> Item:
        return heads.get(item.head_id or 0, item)

    if known is None:
        names = scope.uow.people.names(i.requester_id for i in items)
        tags = {k: tuple(v) for k, v in repo.tags({head_of(i).id for i in items}).items()}
    else:
        names, tags = known
    out = []
    for item in items:
        head = head_of(item)
        out.append(
            ItemView(
                number=item.number,
                text=item.text,
                status=head.status,
                demand=head.demand,
                votes=item.votes,
                requester=names.get(item.requester_id, "?"),
                created_at=item.created_at,
                tags=tuple(tags.get(head.id, ())),
                merged_into=parents.get(item.merged_into_id or 0),
                head=head.number if head is not item else None,
                linked_metric=head.linked_metric,
                id=item.id,
            )
        )
    return out


def item_view(scope: Reader, item: Item) -> ItemView:
    return item_views(scope, [item])[0]


def detail_view(scope: Reader, item: Item) -> ItemView:
    """The item with what is merged into it, where it was captured and its history."""
    view = item_view(scope, item)
    repo = scope.repo
    merged = tuple(i.number for i in repo.merged_into(item.id))
    sources = repo.sources([item.id])
    names = scope.uow.people.names(
        [s.author_id for s in sources] + [s.captured_by_id for s in sources]
    )
    workspaces = {w.id: w for w in scope.uow.workspaces.of_board(scope.board_id)}
    source_views = tuple(
        SourceView(
            via=s.via,
            platform=workspaces[s.workspace_id].platform if s.workspace_id in workspaces else None,
            workspace=workspaces[s.workspace_id].name if s.workspace_id in workspaces else None,
            channel=s.channel,
            message_id=s.message_id,
            permalink=s.permalink,
            author=names.get(s.author_id, "?"),
            captured_by=names.get(s.captured_by_id, "?"),
            captured_at=s.captured_at,
        )
        for s in sources
    )
    history = tuple((c.status, c.note, c.at) for c in repo.status_history(item.head_id or item.id))
    return ItemView(
        **{**view.__dict__, "merged_items": merged, "sources": source_views, "history": history}
    )
