"""What the core answers: platform-neutral data that each adapter renders natively."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ItemCard:
    """One item as a card: the adapter adds Vote / Who / Show buttons."""

    number: int
    text: str  # already defanged
    status: str
    demand: int
    tags: tuple[str, ...] = ()
    merged_into: int | None = None


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime: str
    title: str = ""


@dataclass(frozen=True)
class Form:
    """Ask the user for input: a modal on Slack/Discord, a prompt on the console."""

    kind: str
    title: str
    label: str
    submit_command: str


@dataclass
class Reply:
    text: str
    private: bool = True
    kind: str = "info"
    card: ItemCard | None = None
    items: list[ItemCard] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    form: Form | None = None
    thread_of: str | None = None  # reply in the thread of this message id
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "text": self.text, "private": self.private}
        if self.card:
            out["card"] = asdict(self.card)
        if self.items:
            out["items"] = [asdict(card) for card in self.items]
        if self.fields:
            out["fields"] = [{"name": k, "value": v} for k, v in self.fields]
        if self.attachments:
            out["attachments"] = [
                {"filename": a.filename, "mime": a.mime, "bytes": len(a.content)}
                for a in self.attachments
            ]
        if self.form:
            out["form"] = asdict(self.form)
        if self.thread_of:
            out["thread_of"] = self.thread_of
        out.update(self.data)
        return out


def private(text: str, kind: str = "info", **extra: Any) -> Reply:
    return Reply(text=text, private=True, kind=kind, **extra)


def public(text: str, kind: str = "info", **extra: Any) -> Reply:
    return Reply(text=text, private=False, kind=kind, **extra)
