"""Observations sent in bulk through the API (the ``observations/`` POST).
The same staging, rules and merge as a CSV upload (health.imports): all or
nothing, in one transaction, with every bad row reported at once."""

from __future__ import annotations

from core.imports import import_records

from .imports import KIND
from .models import Source

MAX_ROWS = 10_000


def ingest_observations(rows: list[dict], *, source: str = "api") -> dict:
    """Store ``rows``, each ``{"account": id}`` or ``{"account_external_id": …}``
    plus ``measure`` (code), ``observed_on`` (YYYY-MM-DD) and ``value``; a key
    (account, measure, day) already stored gets the new value. Returns
    ``{"created": n, "updated": m}``.

    Raises core.imports.RowErrors when any row is bad; nothing is written then.
    Its ``errors`` are ``{"row": i, "field": name, "message": text}`` where
    ``i`` is the row's 0-based index in ``rows`` (``field`` is None for a
    problem of the whole row, ``row`` None for one of the whole list, such as
    more than MAX_ROWS rows). Accounts written to are rescored after commit."""
    if source not in Source.values:
        raise ValueError(f"Unknown observation source {source!r}.")
    counts = import_records(KIND, rows, source=source, max_rows=MAX_ROWS)
    return {"created": counts.created, "updated": counts.updated}
