"""The one way every app writes a risk record's timeline."""

from __future__ import annotations

from typing import Any

from accounts.models import User

from ..models import RiskRecord, TimelineEvent


def timeline_add(
    *,
    risk: RiskRecord,
    kind: str,
    actor: User | None,
    at: Any,
    text: str = "",
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Append an event to the record's timeline, in the caller's transaction.
    The one way every app writes the timeline (the review's notes and tasks
    too); ``risks.timeline`` turns the events back into words."""
    return TimelineEvent.objects.create(
        risk=risk, kind=kind, actor=actor, at=at, text=text, data=data or {}
    )
