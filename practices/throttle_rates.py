"""Request limit rates as written in the settings ("20/minute"), read without Django (the settings check them)."""

from __future__ import annotations

import re
from dataclasses import dataclass

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(text: str | None) -> Rate | None:
    """`20/minute`, `120/m`, `100/10s` → a Rate; empty, `off` or `none` → None (no limit). ValueError otherwise."""
    if text is None or text.strip().lower() in {"", "off", "none"}:
        return None
    match = RATE.match(text)
    if not match or int(match[1]) < 1:
        raise ValueError(f"{text!r} is not a rate such as 20/minute, 120/m or off")
    return Rate(count=int(match[1]), seconds=int(match[2] or 1) * PERIODS[match[3][0].lower()])
