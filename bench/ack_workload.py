"""What the ack-latency benchmarks share: the requests they send, and stopping a server."""

from __future__ import annotations

import subprocess
from typing import Any

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


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not gone within 10 s."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
