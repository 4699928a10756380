"""Free text people write: one message for text that is too long, whichever
way it comes in (a service, a form, the API)."""

from __future__ import annotations


def too_long(limit: int, length: int | None = None) -> str:
    written = f" (this is {length:,})" if length is not None else ""
    return f"Use at most {limit:,} characters{written}."
