"""Admin for CS operations: root causes, risk records, escalations, timeline,
playbooks and tasks.

Every workflow change made here goes through ``risks.services``, exactly as in
the web UI and the API: adding and editing a risk record, the note, escalate,
de-escalate and close pages of a record, the approve and reject actions on
escalations, and saving a playbook with its steps. Tasks are listed, not
written. The admin shows what the services refuse; it decides nothing.
"""

from __future__ import annotations

from . import causes, escalations, playbooks, records, timeline

__all__ = ["causes", "escalations", "playbooks", "records", "timeline"]
