"""Signals the risk workflow sends, for apps above it to react to without this
app knowing them (the weekly review refreshes its agenda)."""

from __future__ import annotations

from django.dispatch import Signal

# A record reached the cross-functional review tier, left it, or closed: what
# the region's next review agenda shows may have changed. Sent inside the
# service's transaction with ``risk``; receivers act after commit.
review_relevant_change = Signal()
