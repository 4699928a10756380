"""The dates the product accepts from people and clients: one range for every
date filter, form and query parameter. Dates outside it would overflow the
arithmetic that follows (the next day, a time zone's offset, the week after)
and name no renewal, meeting or record anyway."""

from __future__ import annotations

import datetime as dt

EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(9000, 12, 31)
OUT_OF_RANGE = f"Enter a date between {EARLIEST.isoformat()} and {LATEST.isoformat()}."


def in_range(day: dt.date) -> bool:
    return EARLIEST <= day <= LATEST
