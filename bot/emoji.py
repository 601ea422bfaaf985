"""Emoji names and characters, so 💡, ``bulb`` and ``:bulb:`` mean one thing."""

from __future__ import annotations

ALIASES = {
    "💡": "bulb",
    "👍": "+1",
    "thumbsup": "+1",
    "thumbs_up": "+1",
    "👍🏻": "+1",
    "👍🏼": "+1",
    "👍🏽": "+1",
    "👍🏾": "+1",
    "👍🏿": "+1",
    "light_bulb": "bulb",
}

CAPTURE = "bulb"
VOTE = "+1"


def canonical(emoji: str) -> str:
    name = emoji.strip().strip(":")
    # Slack sends skin tones as "+1::skin-tone-2".
    name = name.split("::", 1)[0]
    return ALIASES.get(name, name)
