"""Turns feedback results into replies: every sentence the board says is here."""

from __future__ import annotations

from collections.abc import Callable

from bot.feedback import grammar
from bot.feedback.board import CardAt
from bot.feedback.views import Backers, Captured, ItemView, Page, ShipOutcome, VoteOutcome
from bot.replies import Attachment, Form, ItemCard, Kind, PostedCard, Reply, private, public
from bot.text import defang, plural, quote

FEEDBACK_FORM = Form(
    kind="feedback",
    title="Log feedback",
    label="What would make the product better?",
    submit_command="feedback",
)

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
        headline=logged(view),
        item_id=view.id,
    )


def logged(view: ItemView) -> str:
    """What a new item's card says first, and keeps saying when it is redrawn."""
    by = defang(view.requester)
    return f"📝 #{view.number} logged: “{quote(view.text, 200)}” (requested by {by})"


def posted_card(at: CardAt) -> PostedCard:
    return PostedCard(at.platform, at.workspace, at.channel, at.message_id, card(at.item))


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
                kind=Kind.EXISTS,
                card=card(view),
            )
        ]
    text = logged(view)
    reply = public(
        text,
        kind=Kind.ITEM_CREATED,
        card=card(view),
        thread_of=result.thread_of,
        posts_card=True,
    )
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
                kind=Kind.SUGGESTIONS,
                data={"suggestions": [s.number for s in result.suggestions]},
            )
        )
    return replies


def voted(outcome: VoteOutcome) -> Reply:
    view = outcome.item
    group = f" (counts for #{view.head})" if view.head else ""
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
    return private(
        text,
        kind=Kind.VOTE,
        card=card(view),
        redraw=(view.number,) if outcome.changed else (),
        data={"changed": outcome.changed},
    )


def listing(title: str, views: list[ItemView], empty: str) -> Reply:
    if not views:
        return private(empty, kind=Kind.LIST)
    body = "\n".join(line(v) for v in views)
    return private(f"{title}\n{body}", kind=Kind.LIST, items=[card(v) for v in views])


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
    if view.delivery is not None:
        d = view.delivery
        line = f"notified {d.notified:,} of {d.total:,}"
        if d.unreachable:
            line += f"; {d.unreachable:,} could not be reached"
        if d.pending:
            line += f"; {d.pending:,} on their way"
        fields.append(("Ship notices", line))
    for status, note, at in view.history:
        fields.append(("History", f"{at:%Y-%m-%d} {status}" + (f": {quote(note)}" if note else "")))
    text = f"#{view.number} {quote(view.text, 1000)}\n" + "\n".join(f"{k}: {v}" for k, v in fields)
    return private(text, kind=Kind.SHOW, card=card(view), fields=fields)


def backers(result: Backers) -> Reply:
    view = result.item
    head = f"#{view.head}" if view.head else f"#{view.number}"
    names = ", ".join(defang(n) for n in result.people) or "nobody yet"
    return private(
        f"{plural(len(result.people), 'person', 'people')} behind {head}: {names}",
        kind=Kind.WHO,
        data={"people": [defang(n) for n in result.people]},
    )


def shipped(outcome: ShipOutcome) -> Reply:
    view = outcome.item
    if outcome.already:
        when = f" on {outcome.shipped_at:%Y-%m-%d}" if outcome.shipped_at else ""
        return private(
            f"#{view.number} was already shipped{when}; no notices were queued again.",
            kind=Kind.SHIP,
        )
    muted = f" ({outcome.muted} muted)" if outcome.muted else ""
    return public(
        f"🚀 #{view.number} shipped: “{quote(view.text)}”. Notifying "
        f"{plural(outcome.people, 'person', 'people')}{muted}, "
        f"{plural(outcome.threads, 'thread')} and {plural(outcome.announcements, 'channel')}.",
        kind=Kind.SHIP,
        card=card(view),
        posts_card=True,
        redraw=(view.number,),
        deliver_now=True,
        data={
            "queued": {
                "people": outcome.people,
                "threads": outcome.threads,
                "announcements": outcome.announcements,
            }
        },
    )


# -- admin and settings replies ---------------------------------------------------------


def merged(number: int, target: ItemView) -> Reply:
    return private(
        f"🔗 #{number} merged into #{target.number}: #{target.number} now has demand "
        f"{target.demand}. Undo with /feedback unmerge #{number}.",
        kind=Kind.MERGE,
        card=card(target),
        redraw=(target.number,),
    )


def unmerged(item: ItemView, parent: ItemView) -> Reply:
    return private(
        f"✂️ #{item.number} unmerged from #{parent.number}: #{item.number} has demand "
        f"{item.demand}, #{parent.number} has {parent.demand}.",
        kind=Kind.UNMERGE,
        card=card(item),
        redraw=(item.number, parent.number),
    )


def status_changed(
    number: int, view: ItemView, status: str, previous: str, cancelled: int = 0
) -> Reply:
    group = f" (the group of #{number})" if view.number != number else ""
    stopped = (
        f" {plural(cancelled, 'ship notice')} not sent yet will not be sent; "
        "shipping it again sends them."
        if cancelled
        else ""
    )
    return private(
        f"#{view.number}{group} is now {status} (was {previous}).{stopped}",
        kind=Kind.STATUS,
        card=card(view),
        redraw=(view.number,),
    )


def _of_group(number: int, view: ItemView) -> str:
    """``#2 (in #1's group)`` when the item is merged: the change is the group's."""
    return f"#{number} (in #{view.head}'s group)" if view.head else f"#{number}"


def tagged(number: int, view: ItemView) -> Reply:
    tags = ", ".join(view.tags) or "no tags"
    return private(
        f"{_of_group(number, view)} tags: {tags}.",
        kind=Kind.TAG,
        card=card(view),
        redraw=(view.number,),
    )


def linked(number: int, view: ItemView) -> Reply:
    metric = view.linked_metric
    what = f"linked to {metric}" if metric else "no longer linked to a metric"
    return private(f"{_of_group(number, view)} is {what}.", kind=Kind.LINK)


def mute_set(muted: bool, changed: bool) -> Reply:
    state = "won't get" if muted else "will get"
    again = "" if changed else " (no change)"
    return private(f"You {state} ship notices by DM{again}.", kind=Kind.MUTE)


def connect_code(code: str) -> Reply:
    return private(
        f"Your one-time code is {code}. Within 15 minutes, type "
        f"/feedback connect {code} on your other platform to count as one person.",
        kind=Kind.CONNECT,
        data={"code": code},
    )


def connected(other: str) -> Reply:
    return private(
        f"Connected: you and your {defang(other)} account now count as one person.",
        kind=Kind.CONNECT,
    )


def board_join_code(code: str) -> Reply:
    return private(
        f"Board join code: {code}. An admin of the other workspace types "
        f"/feedback board join {code} there within 15 minutes; their feedback then "
        "lands on this board.",
        kind=Kind.BOARD_JOIN,
        data={"code": code},
    )


def board_joined(name: str, moved: tuple[int, int] | None) -> Reply:
    renumbered = ""
    if moved:
        first, last = moved
        renumbered = (
            f" Your item is now #{first}."
            if first == last
            else f" Your items are now #{first}–#{last}."
        )
    return private(
        f"This workspace now shares {defang(name)}'s board.{renumbered}", kind=Kind.BOARD_JOIN
    )


def exporting(follow_up: Callable[[], list[Reply]]) -> Reply:
    return private(
        "Preparing the CSV of the board; it comes here in a moment.",
        kind=Kind.EXPORT,
        follow_up=follow_up,
    )


def exported(views: list[ItemView], csv_text: str) -> Reply:
    return private(
        f"The board as CSV: {plural(len(views), 'item')}.",
        kind=Kind.EXPORT,
        attachments=[Attachment("feedback.csv", csv_text.encode(), "text/csv", "Feedback board")],
    )


def announce_set(channel: str | None) -> Reply:
    text = (
        f"Ship announcements will be posted in {defang(channel)}."
        if channel
        else "Ship announcements are off."
    )
    return private(text, kind=Kind.ANNOUNCE)


def admins_listed(admins: list[str]) -> Reply:
    listed = ", ".join(defang(a) for a in admins) or "none configured"
    return private(f"Board admins (besides platform admins): {listed}.", kind=Kind.ADMINS)


# -- the conversation itself --------------------------------------------------------------


def ask_for_text() -> Reply:
    return private(
        "What's your feedback? Type it after /feedback, e.g. /feedback export to PDF.",
        kind=Kind.FORM,
        form=FEEDBACK_FORM,
    )


def help_text() -> Reply:
    return private(grammar.HELP, kind=Kind.HELP)


def unknown_command(name: str) -> Reply:
    return private(f"I don't know /{defang(name)}; try /feedback help.", kind=Kind.ERROR)


def no_text_to_log() -> Reply:
    return private(
        "That message has no text to log (only images, files or embeds): "
        "write what it asks for with /feedback instead.",
        kind=Kind.ERROR,
    )


def unknown_form() -> Reply:
    return private("That form is no longer supported.", kind=Kind.ERROR)


def refused(message: str) -> Reply:
    """A user error, as the one private sentence it carries. Errors quote what was
    typed, so the whole sentence goes through the defang."""
    return private(defang(message), kind=Kind.ERROR)


def failed() -> Reply:
    return private(
        "Something went wrong on our side; nothing was changed. Please try again.",
        kind=Kind.ERROR,
    )
