"""What the weekly review tells systems outside: the ``agenda.generated``
webhook event and the Slack message of the agenda's region (docs/api.md,
"Webhook events"). The event's data is built by the serializer that documents
it in the OpenAPI schema, as in ``risks.integrations``."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from notifications import slack
from notifications.outbox import queue_slack
from risks.integrations import (
    EventAccountSerializer,
    EventPersonSerializer,
    EventRiskSerializer,
    emit,
    event_webhook,
)

from .models import SECTION_ORDER, Agenda, AgendaItem, AgendaSection, AgendaStatus
from .notifications import agenda_url
from .scheduling import zone_of

AGENDA_GENERATED = "agenda.generated"


class EventAgendaSerializer(serializers.Serializer):
    """A region's weekly review."""

    id = serializers.IntegerField()
    region = serializers.CharField(source="region.code", help_text="Region code.")
    week_start = serializers.DateField(help_text="The Monday of the meeting's week.")
    meeting_at = serializers.DateTimeField(help_text="When the meeting starts.")
    status = serializers.ChoiceField(choices=AgendaStatus.choices)
    generated_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField(help_text="The agenda's page.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, agenda: Agenda) -> str:
        return agenda_url(agenda)


class EventAgendaItemSerializer(serializers.Serializer):
    """A risk record on the agenda, in its section."""

    id = serializers.IntegerField()
    section = serializers.ChoiceField(choices=AgendaSection.choices)
    position = serializers.IntegerField(help_text="1 for the first item of the agenda.")
    risk = EventRiskSerializer()
    account = EventAccountSerializer(source="risk.account")


class AgendaGeneratedDataSerializer(serializers.Serializer):
    agenda = EventAgendaSerializer()
    items = EventAgendaItemSerializer(many=True, help_text="In agenda order.")
    generated_by = EventPersonSerializer(
        allow_null=True, help_text="Who generated it; null when the scheduler did."
    )


AGENDA_GENERATED_WEBHOOK = event_webhook(
    AGENDA_GENERATED,
    AgendaGeneratedDataSerializer,
    "Sent once per agenda, when a region's agenda for a week is first generated (by "
    "the scheduler or a person). Refreshing it before the meeting sends nothing again.",
)


def _items(agenda: Agenda) -> QuerySet[AgendaItem]:
    """The agenda's items in order, with what their payload shows: one query,
    run only if the event is sent."""
    return agenda.items.select_related(
        "risk__account__region",
        "risk__account__segment",
        "risk__account__csm",
        "risk__primary_cause",
        "risk__secondary_cause",
    ).order_by("position", "pk")


def agenda_generated(agenda: Agenda, *, user: User | None = None) -> None:
    """agenda.generated and the Slack message of the agenda's region; called
    once, when the agenda is first generated."""
    emit(
        AGENDA_GENERATED,
        AgendaGeneratedDataSerializer,
        {"agenda": agenda, "items": _items(agenda), "generated_by": user},
        key=f"{AGENDA_GENERATED}:{agenda.pk}",
        occurred_at=agenda.generated_at,
    )
    region = agenda.region
    by_section = agenda.items.order_by().values("section").annotate(n=Count("pk"))
    counts = dict(by_section.values_list("section", "n"))
    total = sum(counts.values())
    meeting = agenda.meeting_at.astimezone(zone_of(region))
    when = f"{meeting:%A} {meeting.day} {meeting:%B %Y, %H:%M} ({region.timezone})"
    items = f"{total} item{'s' if total != 1 else ''}"
    queue_slack(
        region_id=region.pk,
        dedupe_key=f"{AGENDA_GENERATED}:{agenda.pk}",
        kind=AGENDA_GENERATED,
        text=slack.one_line(
            f"The {region.code} weekly review agenda for {meeting:%-d %b %Y} is ready: {items}"
        ),
        blocks=[
            slack.header(f"{region.code} weekly review — {meeting:%-d %b %Y}"),
            slack.section(
                f"The agenda of the *{slack.escape(region.name)}* cross-functional review "
                f"on {when} is ready: {items}."
            ),
            slack.fields(
                (section.label, str(counts.get(section.value, 0))) for section in SECTION_ORDER
            ),
            slack.link_button("Open agenda", agenda_url(agenda)),
        ],
    )
