"""What a metric key may be: one rule for the config file and for every command that
names a metric (``/feedback link #N <metric>``, ``/nsm record <metric> …``)."""

from __future__ import annotations

import re

#: Letters, digits, ``_`` and ``-``, starting with a letter or digit, at most 64 (the
#: column's size). Case matters: ``Load-Time`` is not ``load-time``.
METRIC_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: Words that mean "no metric" where a metric may be named.
RESERVED = frozenset({"none", "-"})


def is_metric_key(text: str) -> bool:
    return METRIC_KEY.fullmatch(text) is not None and text.lower() not in RESERVED
