"""What the ack-latency benchmarks send: varied requests that share words."""

from __future__ import annotations

WORDS = (
    "dark", "mode", "export", "pdf", "grid", "snap", "shortcut", "layers", "comments", "email",
    "sso", "okta", "offline", "figma", "fonts", "rename", "svg", "guests", "loading", "zoom",
    "lock", "templates", "variants", "pen", "spell", "tablet", "minimap", "css", "plugin",
    "audit", "version", "history", "presenter", "colors", "undo",
)  # fmt: skip


def feedback_text(n: int) -> str:
    """Varied requests that share words, so duplicate suggestions have work to do."""
    words = [WORDS[(n * 7 + k * 13) % len(WORDS)] for k in range(4)]
    return f"please add {' '.join(words)} (request {n})"
