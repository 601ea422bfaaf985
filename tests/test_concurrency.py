"""Many people voting at once, and one person voting from many places at once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from bot.app import Lodestar
from bot.context import Caller
from bot.feedback import demand


def person(name: str) -> Caller:
    return Caller("console", "acme", name, name, channel="general")


def test_twenty_concurrent_voters_on_one_item_give_twenty_votes(app: Lodestar) -> None:
    app.board.capture(person("ana"), "bulk edit")
    voters = [person(f"voter{i}") for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(lambda c: app.board.vote(c, 1), voters))
    assert all(o.changed for o in outcomes)
    view = app.board.show(person("ana"), 1)
    assert (view.votes, view.demand) == (20, 21)


def test_one_person_voting_from_five_threads_gives_one_vote(app: Lodestar) -> None:
    app.board.capture(person("ana"), "bulk edit")
    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(pool.map(lambda _: app.board.vote(person("bo"), 1), range(5)))
    assert sum(o.changed for o in outcomes) == 1
    view = app.board.show(person("ana"), 1)
    assert (view.votes, view.demand) == (1, 2)


def test_votes_racing_a_merge_keep_demand_exact(app: Lodestar) -> None:
    admin = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    app.board.capture(person("ana"), "snap to grid")
    app.board.capture(person("bo"), "align to grid")
    voters = [person(f"v{i}") for i in range(16)]

    def act(i: int) -> None:
        if i == 8:
            app.merges.merge(admin, 2, 1)
        else:
            app.board.vote(voters[i], 2 if i % 2 else 1)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(act, range(16)))
    # ana, bo and the 15 voters, each once.
    assert app.board.show(person("ana"), 1).demand == 17


def test_many_bulbs_on_one_message_at_once_make_one_item(app: Lodestar) -> None:
    from bot.context import ChatMessage

    message = ChatMessage("general", "m1", "cy", "cy", "please add SSO")
    reactors = [person(f"r{i}") for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda c: app.router.reaction(c, "bulb", message, added=True), reactors))
    items = app.board.items(person("cy"))
    assert [(v.number, v.text) for v in items] == [(1, "please add SSO")]


def test_connecting_while_votes_land_keeps_demand_exact(app: Lodestar) -> None:
    from tests.test_demand_properties import check_demand

    admin = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    for n in range(6):
        app.board.capture(person(f"asker{n}"), f"idea {n}")
    for n in range(2, 7):
        app.merges.merge(admin, n, 1)
    kay, gee = person("kay"), person("gee")
    app.board.vote(gee, 1)
    code, _ = app.identity.connect(kay, None)

    def act(i: int) -> None:
        if i == 5:
            app.identity.connect(gee, code)
        else:
            app.board.vote(kay, 1 + i % 6, add=i % 3 != 2)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(act, range(12)))
    check_demand(app, "acme")


def test_votes_racing_merges_and_unmerges_never_reach_anyone_as_an_error(app: Lodestar) -> None:
    """Votes, merges and unmerges of the same groups from many threads at once: each
    gets its answer (or a clear refusal), never "something went wrong", and demand
    stays exactly the people behind each group."""
    admin = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    for n in range(6):
        app.board.capture(person(f"asker{n}"), f"idea {n}")
    steps = []
    for round_ in range(12):
        steps += [("merge", 2 + round_ % 5, 1), ("unmerge", 2 + round_ % 5, 0)]
        steps += [("vote", v, 1 + (v + round_) % 6) for v in range(6)]

    def act(step: tuple[str, int, int]) -> list[str]:
        kind, a, b = step
        line = {"merge": f"merge #{a} into #{b}", "unmerge": f"unmerge #{a}"}.get(kind)
        who = admin if line else person(f"voter{a}")
        replies = app.router.command(who, "feedback", line or f"vote #{b}")
        return [r.text for r in replies]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = [text for texts in pool.map(act, steps) for text in texts]
    assert not [a for a in answers if "went wrong" in a]
    heads = {v.number: v for v in app.board.items(person("cy")) if v.merged_into is None}
    for number, view in heads.items():
        people = set(app.board.who(person("cy"), number).people)
        assert view.demand == len(people), (number, view.demand, people)


def test_two_unmerges_of_one_item_at_once_one_wins_the_other_is_told(app: Lodestar) -> None:
    admin = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    app.board.capture(person("ana"), "snap to grid")
    app.board.capture(person("bo"), "align to grid")
    app.merges.merge(admin, 2, 1)

    def unmerge(_: int) -> str:
        return app.router.command(admin, "feedback", "unmerge #2")[0].text

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(unmerge, range(4)))
    assert sum(a.startswith("✂️ #2 unmerged from #1") for a in answers) == 1
    assert answers.count("#2 is not merged into anything.") == 3
    assert app.board.show(person("ana"), 1).demand == 1
    assert app.board.show(person("ana"), 2).demand == 1


def _wait_until_someone_waits_for_a_lock(app: Lodestar) -> None:
    with app.db.engine.connect() as conn:
        for _ in range(500):
            if conn.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
                return
            time.sleep(0.01)
    raise AssertionError("nobody waited for a lock")


def test_a_vote_whose_item_changed_group_meanwhile_takes_locks_in_order(app: Lodestar) -> None:
    """The vote read #2 as its own group; #2 was merged into #1 before the vote took
    its lock, and an unmerge of #2 holds #1's. The vote must let go of #2 before
    waiting for #1: holding #2 while the unmerge wants it was a deadlock."""
    if app.db.dialect != "postgresql":
        pytest.skip("SQLite runs one writer at a time: no row locks to order")
    admin = Caller("console", "acme", "pm", "pm", is_platform_admin=True)
    app.board.capture(person("ana"), "snap to grid")
    app.board.capture(person("bo"), "align to grid")
    with app.db.uow() as vote_uow:
        board_id = vote_uow.workspaces.get("console", "acme").board_id
        stale = vote_uow.board(board_id).item(2)  # read before the merge: its own head
        app.merges.merge(admin, 2, 1)
        with app.db.uow() as unmerge_uow, ThreadPoolExecutor(1) as pool:
            groups = unmerge_uow.groups(board_id)
            item = unmerge_uow.board(board_id).item(2)
            assert demand.lock_group(groups, item) == item.head_id  # holds #1's lock
            voting = pool.submit(demand.lock_group, vote_uow.groups(board_id), stale)
            _wait_until_someone_waits_for_a_lock(app)
            demand.unmerge(groups, item, 1, app.clock.now())  # writes #2's row
            unmerge_uow.commit()
            assert voting.result(timeout=30) == stale.id  # #2 heads its own group again
        vote_uow.rollback()


def test_a_merge_that_read_a_stale_head_locks_the_real_one(
    app: Lodestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """merge #2 into #3 reads #2 while it is merged into #1; #2 is unmerged before the
    merge locks anything, and a vote on #2 runs meanwhile. The merge must lock #2 (its
    head now), not #1, so the vote and the merge take turns and demand stays exact."""
    import threading

    from storage.groups import GroupRepository

    if app.db.dialect != "postgresql":
        pytest.skip("SQLite runs one writer at a time: no row locks to order")
    boss = Caller("console", "acme", "boss", "boss", is_platform_admin=True)
    for idea in ("alpha one", "bravo two", "charlie three"):
        app.board.capture(person("seed"), idea)
    app.merges.merge(boss, 2, 1)
    lock_heads, add_backing = GroupRepository.lock_heads, GroupRepository.add_backing

    def slow_lock(self: GroupRepository, *ids: int) -> None:
        if threading.current_thread().name == "merger":
            time.sleep(0.6)  # between reading #2 and locking its group
        lock_heads(self, *ids)

    def slow_backing(self: GroupRepository, head: int, who: int, delta: int) -> int:
        weight = add_backing(self, head, who, delta)
        if threading.current_thread().name == "voter":
            time.sleep(0.6)  # the vote's transaction still open
        return weight

    monkeypatch.setattr(GroupRepository, "lock_heads", slow_lock)
    monkeypatch.setattr(GroupRepository, "add_backing", slow_backing)
    merger = threading.Thread(target=app.merges.merge, args=(boss, 2, 3), name="merger")
    merger.start()
    time.sleep(0.2)
    app.merges.unmerge(boss, 2)
    voter = threading.Thread(target=app.board.vote, args=(person("val"), 2), name="voter")
    voter.start()
    merger.join()
    voter.join()
    monkeypatch.undo()
    assert sorted(app.board.who(person("x"), 3).people) == ["seed", "val"]
    assert app.board.show(person("x"), 3).demand == 2
    assert app.router.command(person("val"), "feedback", "unvote #2")[0].text.startswith(
        "Vote removed from #2"
    )
