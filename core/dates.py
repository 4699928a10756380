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


def in_words(value: object) -> str:
    """A stored day (a date, or text starting YYYY-MM-DD, as JSON keeps it)
    as the pages write days: "5 Mar 2026". Anything else as it is."""
    try:
        return f"{dt.date.fromisoformat(str(value)[:10]):%-d %b %Y}"
    except ValueError:
        return str(value)
