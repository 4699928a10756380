"""What the risk workflow tells systems outside: the signed webhook events
``risk.opened``, ``risk.escalated``, ``risk.closed``, ``escalation.requested``,
``escalation.decided`` and ``task.overdue``, and the Slack messages of an
escalation request and decision (docs/api.md, "Webhook events").

Each event's ``data`` is built by a serializer of this module, and the same
serializer documents it in the OpenAPI schema's ``webhooks`` section
(``SPECTACULAR_SETTINGS["WEBHOOKS"]`` lists the ``*_WEBHOOK`` objects), so the
documentation and the payloads cannot drift apart. The shapes shared by every
event (a person, an account, a risk record) are here too, for the weekly
review's and the risk rules' events above.

The services call these functions inside their transactions, right where the
change happens: the outbox rows commit with the change or not at all.
"""

from __future__ import annotations

import datetime as dt
import operator
import zoneinfo
from functools import reduce
from typing import Any

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    OpenApiWebhook,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from accounts.models import Account, Region, User
from core.api import MoneyField
from core.money import format_money
from notifications import slack
from notifications.events import SUBSCRIBABLE
from notifications.models import WebhookEndpoint
from notifications.outbox import (
    queue_event,
    queue_slack,
    subscribers,
    written_events,
)

from .links import account_url, risk_url
from .models import (
    Escalation,
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    Task,
    Tier,
)

RISK_OPENED = "risk.opened"
RISK_ESCALATED = "risk.escalated"
RISK_CLOSED = "risk.closed"
ESCALATION_REQUESTED = "escalation.requested"
ESCALATION_DECIDED = "escalation.decided"
TASK_OVERDUE = "task.overdue"


# --- the shapes every event shares ---------------------------------------------------------


class EventPersonSerializer(serializers.Serializer):
    """A person of Red Account."""

    id = serializers.IntegerField()
    name = serializers.SerializerMethodField(help_text="Full name, or the user name.")
    email = serializers.CharField(allow_blank=True, help_text="Empty when unknown.")

    def get_name(self, user: User) -> str:
        return str(user)


class EventAccountSerializer(serializers.Serializer):
    """A customer account."""

    id = serializers.IntegerField()
    external_id = serializers.CharField(help_text="The account's id in the CRM.")
    name = serializers.CharField()
    region = serializers.CharField(source="region.code", help_text="Region code, e.g. EMEA.")
    segment = serializers.CharField(source="segment.code", help_text="Segment code.")
    arr = MoneyField(help_text="Annual recurring revenue.")
    renewal_date = serializers.DateField()
    csm = EventPersonSerializer(help_text="The account's CSM.")
    url = serializers.SerializerMethodField(help_text="The account's page.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, account: Account) -> str:
        return account_url(account.pk)


class EventRiskSerializer(serializers.Serializer):
    """A risk record as it is after the change the event reports."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RiskStatus.choices)
    tier = serializers.ChoiceField(choices=Tier.choices)
    max_tier = serializers.ChoiceField(
        choices=Tier.choices, help_text="The highest tier the record reached."
    )
    primary_cause = serializers.CharField(source="primary_cause.code", help_text="Cause code.")
    secondary_cause = serializers.CharField(
        source="secondary_cause.code", allow_null=True, help_text="Cause code, or null."
    )
    summary = serializers.CharField()
    arr_at_risk = MoneyField()
    arr_retained = MoneyField(allow_null=True, help_text="Null while the record is open.")
    opened_at = serializers.DateTimeField()
    tier_changed_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField(help_text="The record's page.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, risk: RiskRecord) -> str:
        return risk_url(risk.pk)


class EventEscalationSerializer(serializers.Serializer):
    """A request to move a record one tier up, and its decision."""

    id = serializers.IntegerField()
    from_tier = serializers.ChoiceField(choices=Tier.choices)
    to_tier = serializers.ChoiceField(choices=Tier.choices)
    status = serializers.ChoiceField(choices=EscalationStatus.choices)
    reason = serializers.CharField()
    requested_by = EventPersonSerializer()
    requested_at = serializers.DateTimeField()
    decided_by = EventPersonSerializer(allow_null=True, help_text="Null while pending.")
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField(allow_blank=True)


class EventTaskSerializer(serializers.Serializer):
    """A task on a risk record."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    owner = EventPersonSerializer(allow_null=True, help_text="Null for a department's task.")
    department = serializers.CharField(
        allow_blank=True, help_text="The department it is for, or empty."
    )
    due_date = serializers.DateField()
    url = serializers.SerializerMethodField(help_text="The page of the task's risk record.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, task: Task) -> str:
        return risk_url(task.risk_id)


# --- the events' data ------------------------------------------------------------------------


class OpenedByRuleSerializer(serializers.Serializer):
    """The risk rule that opened the record."""

    id = serializers.IntegerField(source="rule")
    name = serializers.CharField(source="rule_name")
    match = serializers.IntegerField(help_text="The id of the rule's match.")


class RiskOpenedDataSerializer(serializers.Serializer):
    risk = EventRiskSerializer()
    account = EventAccountSerializer()
    opened_by = EventPersonSerializer(
        help_text="Who filed it; for a record a rule opened, the “Red Account rules” user."
    )
    rule = OpenedByRuleSerializer(
        allow_null=True, help_text="The risk rule that opened it, or null when a person did."
    )


class RiskEscalatedDataSerializer(serializers.Serializer):
    risk = EventRiskSerializer()
    account = EventAccountSerializer()
    from_tier = serializers.ChoiceField(choices=Tier.choices)
    to_tier = serializers.ChoiceField(choices=Tier.choices)
    escalation = EventEscalationSerializer(
        help_text="The approved escalation (decided_by approved it; the requester when "
        "a manager or an admin escalated directly)."
    )


class RiskClosedDataSerializer(serializers.Serializer):
    risk = EventRiskSerializer()
    account = EventAccountSerializer()
    outcome = serializers.ChoiceField(
        choices=[(status.value, status.label) for status in RiskStatus if status != "open"]
    )
    note = serializers.CharField(help_text="Why it closed this way.")
    closed_by = EventPersonSerializer()


class EscalationRequestedDataSerializer(serializers.Serializer):
    escalation = EventEscalationSerializer()
    risk = EventRiskSerializer()
    account = EventAccountSerializer()


class EscalationDecidedDataSerializer(serializers.Serializer):
    escalation = EventEscalationSerializer(
        help_text="status is approved or rejected; decided_by, decided_at and "
        "decision_note say by whom, when and why."
    )
    risk = EventRiskSerializer()
    account = EventAccountSerializer()


class TaskOverdueDataSerializer(serializers.Serializer):
    task = EventTaskSerializer()
    risk = EventRiskSerializer()
    account = EventAccountSerializer()


# --- documenting the events ------------------------------------------------------------------

_SIGNED = (
    "Sent as a POST with the Standard Webhooks headers `webhook-id` (the same for "
    "every attempt of the event), `webhook-timestamp` and `webhook-signature` "
    "(HMAC-SHA256 with the endpoint's secret). Any 2xx answer counts as received; "
    "anything else is tried again later."
)


def event_webhook(
    event_type: str, data_serializer: type[serializers.Serializer], description: str
) -> OpenApiWebhook:
    """The OpenAPI description of one event type: the Standard Webhooks body
    ``{type, timestamp, data}`` with ``data`` as the serializer describes it."""

    @extend_schema_field({"type": "string", "enum": [event_type]})
    class EventTypeField(serializers.CharField):
        pass

    class Envelope(serializers.Serializer):
        type = EventTypeField(help_text="The event type.")
        timestamp = serializers.DateTimeField(help_text="When it happened, in UTC.")
        data = data_serializer()

    name = data_serializer.__name__.removesuffix("DataSerializer")
    Envelope.__name__ = Envelope.__qualname__ = f"{name}EventSerializer"
    Envelope.__doc__ = f"The body of a {event_type} event."
    return OpenApiWebhook(
        name=event_type,
        decorator=extend_schema(
            summary=SUBSCRIBABLE[event_type],
            description=f"{description}\n\n{_SIGNED}",
            tags=["Webhook events"],
            request=Envelope,
            responses={200: OpenApiResponse(description="Received (any 2xx status).")},
        ),
    )


RISK_OPENED_WEBHOOK = event_webhook(
    RISK_OPENED,
    RiskOpenedDataSerializer,
    "Sent when a record is filed, by a person or by a risk rule (then `rule` names it).",
)
RISK_ESCALATED_WEBHOOK = event_webhook(
    RISK_ESCALATED,
    RiskEscalatedDataSerializer,
    "Sent when a record moves up a tier: an escalation approved, or a manager's or "
    "admin's own escalation (approved at once). De-escalation sends no event.",
)
RISK_CLOSED_WEBHOOK = event_webhook(
    RISK_CLOSED,
    RiskClosedDataSerializer,
    "Sent when a record is closed as saved, churned or withdrawn. A closed record "
    "is never reopened, so a record sends this once.",
)
ESCALATION_REQUESTED_WEBHOOK = event_webhook(
    ESCALATION_REQUESTED,
    EscalationRequestedDataSerializer,
    "Sent when a CSM asks to move a record up a tier and the request waits for a "
    "decision (their manager's, or an admin's). A manager's or admin's own "
    "escalation is approved at once and sends only risk.escalated.",
)
ESCALATION_DECIDED_WEBHOOK = event_webhook(
    ESCALATION_DECIDED,
    EscalationDecidedDataSerializer,
    "Sent when a waiting escalation is approved (risk.escalated is sent just before "
    "it) or rejected.",
)
TASK_OVERDUE_WEBHOOK = event_webhook(
    TASK_OVERDUE,
    TaskOverdueDataSerializer,
    "Sent by the daily check (07:30 UTC) for each open task of an open record whose "
    "due date has passed in its account's region: once per task and due date. A task "
    "whose due date moves and passes again is overdue again. The timestamp is the "
    "midnight after the due date, in the account's region.",
)


# --- sending -----------------------------------------------------------------------------


def emit(
    event_type: str,
    data: type[serializers.Serializer],
    instance: dict[str, Any],
    *,
    key: str,
    occurred_at: dt.datetime,
    endpoints: list[WebhookEndpoint] | None = None,
) -> int:
    """Queue the event for its subscribers in the current transaction, its
    ``data`` the serializer's representation of ``instance`` (built only when
    someone subscribes). Returns how many deliveries were written now (0 for
    a key already sent)."""
    if endpoints is None:
        endpoints = subscribers(event_type)
    if not endpoints:
        return 0
    payload = data(instance).data
    return len(
        queue_event(event_type, payload, key=key, occurred_at=occurred_at, endpoints=endpoints)
    )


def _risk_data(risk: RiskRecord, **extra: Any) -> dict[str, Any]:
    return {"risk": risk, "account": risk.account, **extra}


def risk_opened(risk: RiskRecord, *, origin: dict[str, Any] | None = None) -> None:
    """risk.opened, once per record. ``origin`` names the rule that opened it."""
    rule = origin if origin and "rule" in origin else None
    emit(
        RISK_OPENED,
        RiskOpenedDataSerializer,
        _risk_data(risk, opened_by=risk.opened_by, rule=rule),
        key=f"{RISK_OPENED}:{risk.pk}",
        occurred_at=risk.opened_at,
    )


def risk_escalated(escalation: Escalation, risk: RiskRecord) -> None:
    """risk.escalated for an approved escalation (the record is at its new tier)."""
    emit(
        RISK_ESCALATED,
        RiskEscalatedDataSerializer,
        _risk_data(
            risk,
            from_tier=escalation.from_tier,
            to_tier=escalation.to_tier,
            escalation=escalation,
        ),
        key=f"{RISK_ESCALATED}:{risk.pk}:{escalation.to_tier}:{escalation.pk}",
        occurred_at=escalation.decided_at or risk.tier_changed_at,
    )


def risk_closed(risk: RiskRecord) -> None:
    """risk.closed, once per record (a closed record is never reopened)."""
    emit(
        RISK_CLOSED,
        RiskClosedDataSerializer,
        _risk_data(risk, outcome=risk.status, note=risk.outcome_note, closed_by=risk.closed_by),
        key=f"{RISK_CLOSED}:{risk.pk}",
        occurred_at=risk.closed_at,
    )


def escalation_requested(escalation: Escalation, risk: RiskRecord) -> None:
    """escalation.requested and the Slack message of the account's region, for
    a request that waits for a decision."""
    emit(
        ESCALATION_REQUESTED,
        EscalationRequestedDataSerializer,
        _risk_data(risk, escalation=escalation),
        key=f"{ESCALATION_REQUESTED}:{escalation.pk}",
        occurred_at=escalation.requested_at,
    )
    account = risk.account
    requester = str(escalation.requested_by)
    tier = Tier(escalation.to_tier)
    queue_slack(
        region_id=account.region_id,
        dedupe_key=f"{ESCALATION_REQUESTED}:{escalation.pk}",
        kind=ESCALATION_REQUESTED,
        text=slack.one_line(
            f"{requester} asks to escalate {account.name} to tier {escalation.to_tier}"
        ),
        blocks=[
            slack.header(f"Escalation to tier {escalation.to_tier} requested"),
            slack.section(
                f"*{slack.escape(requester)}* asks to move the risk record of "
                f"*{slack.escape(account.name)}* from tier {escalation.from_tier} to "
                f"{slack.escape(tier.label)}:\n{slack.quote(escalation.reason)}"
            ),
            slack.fields(risk_fields(risk)),
            slack.context(f"Risk record #{risk.pk} · waiting for a decision"),
            slack.link_button("Open record", risk_url(risk.pk)),
        ],
    )


def escalation_decided(escalation: Escalation, risk: RiskRecord) -> None:
    """escalation.decided and the Slack message of the account's region, for
    a waiting request approved or rejected by someone who may decide it."""
    emit(
        ESCALATION_DECIDED,
        EscalationDecidedDataSerializer,
        _risk_data(risk, escalation=escalation),
        key=f"{ESCALATION_DECIDED}:{escalation.pk}",
        occurred_at=escalation.decided_at,
    )
    account = risk.account
    decider = str(escalation.decided_by)
    outcome = escalation.get_status_display().lower()
    note = escalation.decision_note.strip()
    queue_slack(
        region_id=account.region_id,
        dedupe_key=f"{ESCALATION_DECIDED}:{escalation.pk}",
        kind=ESCALATION_DECIDED,
        text=slack.one_line(
            f"{decider} {outcome} the escalation of {account.name} to tier {escalation.to_tier}"
        ),
        blocks=[
            slack.header(f"Escalation to tier {escalation.to_tier} {outcome}"),
            slack.section(
                f"*{slack.escape(decider)}* {outcome} the request of "
                f"{slack.escape(str(escalation.requested_by))} to move the risk record of "
                f"*{slack.escape(account.name)}* to "
                f"{slack.escape(Tier(escalation.to_tier).label)}."
                + (f"\n{slack.quote(note)}" if note else "")
            ),
            slack.fields(risk_fields(risk)),
            slack.context(f"Risk record #{risk.pk} · now at tier {risk.tier}"),
            slack.link_button("Open record", risk_url(risk.pk)),
        ],
    )


def _overdue_since(task: Task) -> dt.datetime:
    """The moment the task became overdue: the midnight after its due date, in
    its account's region."""
    try:
        zone = zoneinfo.ZoneInfo(task.risk.account.region.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = timezone.get_current_timezone()
    return dt.datetime.combine(task.due_date + dt.timedelta(days=1), dt.time(), tzinfo=zone)


def tasks_overdue(*, now: dt.datetime | None = None) -> int:
    """task.overdue for every open task of an open record whose due date is
    before today in its account's region, once per task and due date (a due
    date that moves and passes again is a new event). One query for the
    subscribers, and when there are any one for the regions' dates, one for
    the tasks and one per 500 of them for what earlier runs sent; then a few
    per event not sent before. Returns how many deliveries were written now."""
    endpoints = subscribers(TASK_OVERDUE)
    if not endpoints:
        return 0
    now = now or timezone.now()
    regions_by_day: dict[dt.date, list[int]] = {}
    for region_id, zone_name in Region.objects.values_list("pk", "timezone"):
        try:
            today = now.astimezone(zoneinfo.ZoneInfo(zone_name)).date()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            today = timezone.localdate(now)
        regions_by_day.setdefault(today, []).append(region_id)
    if not regions_by_day:
        return 0
    late = reduce(
        operator.or_,
        (
            Q(risk__account__region_id__in=region_ids, due_date__lt=today)
            for today, region_ids in regions_by_day.items()
        ),
    )
    tasks = (
        Task.objects.filter(late, done_at__isnull=True, risk__status=RiskStatus.OPEN)
        .select_related(
            "owner",
            "risk__account__region",
            "risk__account__segment",
            "risk__account__csm",
            "risk__primary_cause",
            "risk__secondary_cause",
        )
        .order_by("due_date", "pk")
    )
    keyed = [(task, f"{TASK_OVERDUE}:{task.pk}:{task.due_date.isoformat()}") for task in tasks]
    # What earlier runs sent is skipped without building its payload again.
    sent_before = written_events([key for _, key in keyed], endpoints)
    written = 0
    for task, key in keyed:
        missing = [endpoint for endpoint in endpoints if (endpoint.pk, key) not in sent_before]
        if not missing:
            continue
        written += emit(
            TASK_OVERDUE,
            TaskOverdueDataSerializer,
            {"task": task, "risk": task.risk, "account": task.risk.account},
            key=key,
            occurred_at=_overdue_since(task),
            endpoints=missing,
        )
    return written


# --- Slack fields shared with the messages above ------------------------------------------


def account_fields(account: Account) -> list[tuple[str, str]]:
    """An account's facts for a Slack message's fields section."""
    return [
        ("Account", account.name),
        ("Region", account.region.code),
        ("Segment", account.segment.name),
        ("ARR", format_money(account.arr)),
        ("Renewal", f"{account.renewal_date:%-d %b %Y}"),
        ("CSM", str(account.csm)),
    ]


def risk_fields(risk: RiskRecord) -> list[tuple[str, str]]:
    """A record's facts for a Slack message's fields section."""
    account = risk.account
    return [
        ("Account", account.name),
        ("Region", account.region.code),
        ("ARR at risk", format_money(risk.arr_at_risk)),
        ("Renewal", f"{account.renewal_date:%-d %b %Y}"),
        ("Primary cause", risk.primary_cause.name),
        ("CSM", str(account.csm)),
    ]
