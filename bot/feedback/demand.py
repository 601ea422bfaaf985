"""Groups and demand: what they are, and how every change to the board moves them.

This module is the one owner of these rules; nothing else changes demand, vote
counts, backers or merge links (``storage.groups`` holds the statements, and only
this module calls it).

* A **group** is an item and every item merged into it, directly or through
  another. Its **head** is the one item of the group merged into nothing; every
  item stores its group's head (``head_id``; a lone item is its own head).
* A **backer** of a group is a person who asked for or voted on any of its items.
  Their **weight** is how many times: one per request, one per vote.
* A group's **demand** is its number of backers. It is stored on the head, and is
  0 on merged items. Each item also keeps ``votes``, the votes cast on it alone.
* Status, tags and the metric link belong to the group: use cases set them on
  the head, and every view of a merged item shows its head's.

How each change moves them:

* **capture** — a new group of one; its requester is its only backer (demand 1).
* **vote / unvote** — the vote row is the truth. When one is added or removed, the
  item's ``votes`` and the voter's weight behind the group move by one; demand
  moves by one when the voter starts or stops backing the group.
* **merge A into B** — A's backers move onto B's group, weight by weight, and A's
  items take B as their head. Both groups' demand is then set to their number of
  backers: one indexed count of the backers table per group. Votes and requests
  are never recounted.
* **unmerge A** — the weights A's part of the group contributes (its items'
  requests and votes) move back from the head to A, and A heads its part again;
  demand is set the same way. Merge then unmerge restores every number exactly.
* **connect** (two identities become one person) — where both back a group their
  weights fold into one backer, and that group's demand drops by one; two votes of
  theirs on one item become one vote.

Locks (PostgreSQL; SQLite serializes writers): a change locks the heads of the
groups it touches, in ascending id order and all at once, and checks they are still
the heads once locked (else it lets go and starts again), so two changes never wait
for each other in a circle and none works under a stale lock. What is left (a
foreign key's lock) is retried by ``bot.scope`` as a lost race.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from bot.errors import MergeRefused
from storage.groups import GroupRepository
from storage.models import Item


def new_group(
    groups: GroupRepository, number: int, text: str, requester_id: int, now: datetime
) -> int:
    """A new item, heading a group of one with its requester behind it (demand 1)."""
    item_id = groups.insert_item(number, text, requester_id, now, demand=1)
    groups.add_backing(item_id, requester_id, 1)
    return item_id


def lock_group(groups: GroupRepository, item: Item) -> int:
    """Lock the item's group and return its head (the head as it is once locked)."""
    if not groups.needs_row_locks:
        return item.head_id or item.id
    (head,) = groups.lock_stable(lambda: {groups.head_of(item.id)})
    groups.refresh(item)
    return head


def vote(groups: GroupRepository, item: Item, person_id: int, *, add: bool, now: datetime) -> bool:
    """Add or remove a person's vote on an item; False when there was nothing to do."""
    head = lock_group(groups, item)
    changed = (
        groups.insert_vote(item.id, person_id, now)
        if add
        else groups.delete_vote(item.id, person_id)
    )
    if changed:
        step = 1 if add else -1
        groups.add_votes(item.id, step)
        weight = groups.add_backing(head, person_id, step)
        if add and weight == 1:
            groups.add_demand(head, 1)  # a new backer
        elif not add and weight == 0:
            groups.add_demand(head, -1)  # no longer behind the group
    return changed


def merge(groups: GroupRepository, item: Item, target: Item, by_id: int, now: datetime) -> None:
    """Merge ``item``'s group into ``target``'s; refuse what would break a group."""
    if item.id == target.id:
        raise MergeRefused(f"#{item.number} can't be merged into itself.")
    if groups.needs_row_locks:
        groups.lock_stable(lambda: {groups.head_of(item.id), groups.head_of(target.id)})
        groups.refresh(item, target)
    if target.head_id == item.id:
        raise MergeRefused(
            f"#{target.number} is already merged into #{item.number}: "
            "that merge would make a cycle."
        )
    if item.merged_into_id is not None:
        parent = groups.number_of(item.merged_into_id)
        raise MergeRefused(f"#{item.number} is already merged into #{parent}; unmerge it first.")
    if target.merged_into_id is not None:
        head = groups.number_of(target.head_id or target.id)
        raise MergeRefused(f"#{target.number} is merged into #{head}; merge into #{head} instead.")
    moved = groups.group(item.id)
    groups.move_backing(item.id, target.id, Counter(groups.backers(item.id)))
    groups.set_head((i.id for i in moved), target.id)
    item.merged_into_id = target.id
    item.updated_at = now
    groups.log_merge(item.id, target.id, "merge", by_id, now)
    groups.demand_from_backers(item.id)
    groups.demand_from_backers(target.id)


def unmerge(groups: GroupRepository, item: Item, by_id: int, now: datetime) -> int:
    """Take ``item`` (and what is merged into it) out of its group; returns the id of
    the item it was merged into."""
    if item.merged_into_id is None:
        raise MergeRefused(f"#{item.number} is not merged into anything.")
    head = lock_group(groups, item)
    parent_id = item.merged_into_id
    if parent_id is None:  # another unmerge of it won the race
        raise MergeRefused(f"#{item.number} is not merged into anything.")
    part = _subtree(item.id, groups.group(head))
    groups.move_backing(head, item.id, _contributions(groups, part))
    groups.set_head((i.id for i in part), item.id)
    item.merged_into_id = None
    item.updated_at = now
    groups.log_merge(item.id, parent_id, "unmerge", by_id, now)
    groups.demand_from_backers(head)
    groups.demand_from_backers(item.id)
    return parent_id


def fold_person(groups: GroupRepository, keep_id: int, gone_id: int) -> None:
    """Person ``gone_id`` becomes ``keep_id``: fold their backings and votes so that
    nobody counts twice anywhere."""
    if groups.needs_row_locks:
        groups.lock_stable(lambda: set(groups.groups_backed_by(keep_id, gone_id)))
    for row in groups.backings_of(gone_id):
        kept = groups.backing(row.head_id, keep_id)
        if kept is None:
            groups.transfer_backing(row, keep_id)
        else:
            kept.weight += row.weight
            groups.drop_backing(row)
            groups.add_demand(row.head_id, -1)
    groups.flush()
    for shared in groups.shared_votes(keep_id, gone_id):
        kept = groups.backing(groups.head_of(shared.item_id), keep_id)
        assert kept is not None and kept.weight > 1
        kept.weight -= 1
        groups.add_votes(shared.item_id, -1)
        groups.drop_vote(shared)
    groups.flush()
    groups.hand_over_votes(gone_id, keep_id)


def _contributions(groups: GroupRepository, items: Iterable[Item]) -> Counter[int]:
    """How many times each person stands behind these items (asked or voted)."""
    items = list(items)
    weights: Counter[int] = Counter(item.requester_id for item in items)
    weights.update(person for _, person in groups.voters(item.id for item in items))
    return weights


def _subtree(item_id: int, group: list[Item]) -> list[Item]:
    """``item_id`` and every item merged into it, directly or through another."""
    children: dict[int, list[Item]] = {}
    by_id = {i.id: i for i in group}
    for i in group:
        if i.merged_into_id is not None:
            children.setdefault(i.merged_into_id, []).append(i)
    out, stack = [], [by_id[item_id]]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children.get(node.id, ()))
    return out
