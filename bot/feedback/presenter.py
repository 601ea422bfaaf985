"""Turns feedback results into replies: short, plain text plus structured parts."""

from __future__ import annotations

from bot.feedback.views import Backers, Captured, ItemView, Page, ShipOutcome, VoteOutcome
from bot.replies import ItemCard, Reply, private, public
from bot.text import defang, plural, quote

STATUS_ICON = {
    "new": "🆕",
    "planned": "🗓️",
    "in-progress": "🔨",
    "shipped": "🚀",
    "declined": "🚫",
}


def card(view: ItemView) -> ItemCard:
    return ItemCard(
        number=view.number,
        text=quote(view.text, 300),
        status=view.status,
        demand=view.demand,
        tags=view.tags,
        merged_into=view.merged_into,
    )


def line(view: ItemView) -> str:
    merged = f" (merged into #{view.merged_into})" if view.merged_into else ""
    tags = "".join(f" [{t}]" for t in view.tags)
    return (
        f"#{view.number} {quote(view.text, 90)} — {view.status}, demand {view.demand}{merged}{tags}"
    )


def captured(result: Captured) -> list[Reply]:
    view = result.item
    if not result.created:
        return [
            private(
                f"That message is already #{view.number}: {line(view)}",
                kind="exists",
                card=card(view),
            )
        ]
    by = defang(view.requester)
    text = f"📝 #{view.number} logged: “{quote(view.text, 200)}” (requested by {by})"
    reply = public(text, kind="item_created", card=card(view), thread_of=result.thread_of)
    replies = [reply]
    if result.suggestions:
        lines = []
        for s in result.suggestions:
            note = f", via #{s.via}" if s.via else ""
            if s.status in ("declined", "shipped"):
                note += f" — already {s.status}"
            lines.append(f"#{s.number} {quote(s.text, 90)} (demand {s.demand}{note})")
        first = result.suggestions[0].number
        replies.append(
            private(
                f"Looks like #{first} — vote there instead? Similar items:\n"
                + "\n".join(f"• {entry}" for entry in lines)
                + f"\nSame thing? An admin can /feedback merge #{view.number} into #{first}.",
                kind="suggestions",
                data={"suggestions": [s.number for s in result.suggestions]},
            )
        )
    return replies


def voted(outcome: VoteOutcome) -> Reply:
    view = outcome.item
    group = f" (counts for #{view.root})" if view.root else ""
    if outcome.added:
        text = (
            f"👍 Vote counted for #{view.number}{group}: demand {view.demand}."
            if outcome.changed
            else f"You already vote for #{view.number}{group}: demand {view.demand}."
        )
    else:
        text = (
            f"Vote removed from #{view.number}{group}: demand {view.demand}."
            if outcome.changed
            else f"You had no vote on #{view.number}; nothing changed."
        )
    return private(text, kind="vote", card=card(view), data={"changed": outcome.changed})


def listing(title: str, views: list[ItemView], empty: str) -> Reply:
    if not views:
        return private(empty, kind="list")
    body = "\n".join(line(v) for v in views)
    return private(f"{title}\n{body}", kind="list", items=[card(v) for v in views])


def page(result: Page, status: str | None, tag: str | None) -> Reply:
    what = status or "open"
    if tag:
        what += f" tagged {tag}"
    title = f"{what.capitalize()} items, page {result.page} of {result.pages} ({result.total}):"
    return listing(title, result.items, f"No {what} items.")


def detail(view: ItemView) -> Reply:
    fields = [
        ("Status", view.status),
        ("Demand", f"{view.demand} (unique people behind the group)"),
        ("Votes here", str(view.votes)),
        ("Requested by", defang(view.requester)),
        ("Logged", view.created_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    if view.tags:
        fields.append(("Tags", ", ".join(view.tags)))
    if view.linked_metric:
        fields.append(("Linked metric", view.linked_metric))
    if view.merged_into:
        fields.append(("Merged into", f"#{view.merged_into}"))
    if view.merged_items:
        fields.append(("Merged here", ", ".join(f"#{n}" for n in view.merged_items)))
    for source in view.sources:
        where = source.channel or "direct"
        if source.platform:
            where = f"{source.platform} {where}"
        link = f" {source.permalink}" if source.permalink else ""
        fields.append(
            (
                "Source",
                f"{source.via} in {where} by {defang(source.captured_by)}"
                f" (author {defang(source.author)}){link}",
            )
        )
    for status, note, at in view.history:
        fields.append(("History", f"{at:%Y-%m-%d} {status}" + (f": {quote(note)}" if note else "")))
    text = f"#{view.number} {quote(view.text, 1000)}\n" + "\n".join(f"{k}: {v}" for k, v in fields)
    return private(text, kind="show", card=card(view), fields=fields)


def backers(result: Backers) -> Reply:
    view = result.item
    head = f"#{view.root}" if view.root else f"#{view.number}"
    names = ", ".join(defang(n) for n in result.people) or "nobody yet"
    return private(
        f"{plural(len(result.people), 'person', 'people')} behind {head}: {names}",
        kind="who",
        data={"people": [defang(n) for n in result.people]},
    )


def shipped(outcome: ShipOutcome) -> Reply:
    view = outcome.item
    if outcome.already:
        when = f" on {outcome.shipped_at:%Y-%m-%d}" if outcome.shipped_at else ""
        return private(
            f"#{view.number} was already shipped{when}; no notices were queued again.", kind="ship"
        )
    muted = f" ({outcome.muted} muted)" if outcome.muted else ""
    return public(
        f"🚀 #{view.number} shipped: “{quote(view.text)}”. Notifying "
        f"{plural(outcome.people, 'person', 'people')}{muted}, "
        f"{plural(outcome.threads, 'thread')} and {plural(outcome.announcements, 'channel')}.",
        kind="ship",
        card=card(view),
        data={
            "queued": {
                "people": outcome.people,
                "threads": outcome.threads,
                "announcements": outcome.announcements,
            }
        },
    )
