"""Nearest-name hints for typos ("did you mean ...?")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(name: str, valid: Iterable[str]) -> str | None:
    """The valid name closest to `name`, or None when nothing is close."""
    valid = list(valid)
    hits = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if not hits:
        low = {v.lower(): v for v in valid}
        hits = [low[h] for h in difflib.get_close_matches(name.lower(), list(low), n=1, cutoff=0.6)]
    return hits[0] if hits else None


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """`"; did you mean 'x'?"` for the nearest valid name, or `""`."""
    hit = nearest(name, valid)
    return f"; did you mean {hit!r}?" if hit else ""
