"""The webhook event types. Their payloads are documented in docs/api.md and
in the OpenAPI document's ``webhooks`` section; the apps that cause them
compose the ``data`` of each."""

from __future__ import annotations

# Event types an endpoint may subscribe to, with what each means.
SUBSCRIBABLE: dict[str, str] = {
    "risk.opened": "A risk record was opened (by a person or a risk rule).",
    "risk.escalated": "A risk record moved up a tier.",
    "risk.closed": "A risk record was closed: saved, churned or withdrawn.",
    "escalation.requested": "A CSM asked to move a record up a tier.",
    "escalation.decided": "An escalation request was approved or rejected.",
    "agenda.generated": "A region's weekly review agenda was generated.",
    "rule.matched": "A risk rule with the webhook action matched an account.",
    "task.overdue": "A task on an open risk record passed its due date.",
}

# Sent only by an admin's "Send test event", to one endpoint.
TEST_EVENT = "webhook.test"

EVENT_TYPES: dict[str, str] = {
    **SUBSCRIBABLE,
    TEST_EVENT: "A test event an admin sent to check the endpoint.",
}
