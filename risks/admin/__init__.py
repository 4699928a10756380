"""Admin for CS operations: root causes, risk records, escalations, timeline.

Every workflow change made here goes through ``risks.services``, exactly as in
the web UI and the API: adding and editing a risk record, the note, escalate,
de-escalate and close pages of a record, and the approve and reject actions on
escalations. The admin shows what the services refuse; it decides nothing.
"""

from __future__ import annotations

from . import causes, escalations, records, timeline

__all__ = ["causes", "escalations", "records", "timeline"]
