"""Many people voting at once, and one person voting from many places at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bot.app import Lodestar
from bot.context import Caller


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


def test_connecting_while_votes_land_keeps_the_ledger_exact(app: Lodestar) -> None:
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
