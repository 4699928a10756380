"""Renewals sent in bulk through the API (the ``renewals/`` POST). The same
staging, rules and merge as a CSV upload (accounts.imports): all or nothing,
in one transaction, with every bad row reported at once."""

from __future__ import annotations

from core.imports import import_records

from .imports import KIND
from .models import RenewalSource

MAX_ROWS = 10_000


def ingest_renewals(rows: list[dict], *, source: str = "api") -> dict:
    """Store ``rows``, each ``{"account": id}`` or ``{"account_external_id": …}``
    plus ``renewal_date`` (YYYY-MM-DD), ``outcome`` (renewed, downsell or
    churned), ``arr_before`` and ``arr_after`` (empty or left out for a churn:
    0); a key (account, renewal date) already stored is replaced. Returns
    ``{"created": n, "updated": m}``.

    Raises core.imports.RowErrors when any row is bad; nothing is written then.
    Its ``errors`` are ``{"row": i, "field": name, "message": text}`` where
    ``i`` is the row's 0-based index in ``rows`` (``field`` is None for a
    problem of the whole row, ``row`` None for one of the whole list, such as
    more than MAX_ROWS rows). A churn that is its account's newest renewal
    marks the account churned in the same transaction
    (services.renewals_mark_churned)."""
    if source not in RenewalSource.values:
        raise ValueError(f"Unknown renewal source {source!r}.")
    counts = import_records(KIND, rows, source=source, max_rows=MAX_ROWS)
    return {"created": counts.created, "updated": counts.updated}
