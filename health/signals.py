"""Signals the health app sends, for apps above it to react to without this
app knowing them (risk rules are evaluated after every scoring run)."""

from __future__ import annotations

from django.dispatch import Signal

# A scoring run finished and committed: ``as_of`` (the day scored) and
# ``account_ids`` (None for every account).
scores_computed = Signal()
