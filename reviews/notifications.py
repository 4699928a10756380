"""Notification emails, sent through an outbox.

A notification is an ``OutboundEmail`` row written in the transaction of the
change that causes it (so it exists exactly when the change does), and handed
to the ``reviews.tasks.send_email`` task once that transaction commits. If
Redis is down the hand-over fails quickly and is only logged: the web request
still succeeds, the row waits, and the ``reviews.tasks.send_pending_emails``
sweep sends it once a worker runs again. Nothing is lost and nothing goes out
twice:

* ``dedupe_key`` is unique, so a repeated trigger never writes a second row;
* ``deliver`` sends a row only while holding its row lock and only if it is
  still unsent, then marks it sent in the same transaction. Two senders at once
  (the task and the sweep) cannot both send it. If a worker dies mid-send the
  transaction rolls back and the sweep sends the row again later — delivery is
  at least once, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterable
from email.mime.text import MIMEText
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import Role, User
from risks import calendar
from risks.models import Escalation, EscalationStatus

from .models import SECTION_ORDER, Agenda, AgendaSection, OutboundEmail

logger = logging.getLogger(__name__)

# The sweep leaves fresh rows to the task enqueued on commit, and gives up on a
# row that failed this many times (its last_error tells operations why).
SWEEP_GRACE = dt.timedelta(seconds=30)
SWEEP_BATCH = 100
MAX_SEND_ATTEMPTS = 10


class Kind:
    ESCALATION_REQUESTED = "escalation_requested"
    ESCALATION_DECIDED = "escalation_decided"
    AGENDA_GENERATED = "agenda_generated"
    ESCALATION_REMINDER = "escalation_reminder"


# --- links -----------------------------------------------------------------------


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


def risk_url(risk_id: int) -> str:
    return absolute_url(reverse("risks:detail", kwargs={"pk": risk_id}))


def agenda_url(agenda: Agenda) -> str:
    """The agenda page; the reviews index if that page cannot be resolved."""
    week = agenda.week_start.isoformat()
    # The agenda page's region argument was agreed as ``region``; the page
    # names it ``region_code``. Accept either rather than send a dead link.
    for region_kwarg in ("region", "region_code"):
        try:
            path = reverse(
                "reviews:agenda", kwargs={region_kwarg: agenda.region.code, "week": week}
            )
        except NoReverseMatch:
            continue
        return absolute_url(path)
    return absolute_url("/reviews/")


# --- the outbox ---------------------------------------------------------------------


def _addresses(users: Iterable[User]) -> list[str]:
    """Distinct addresses of active users, in order, skipping blanks."""
    addresses = (user.email.strip() for user in users if user.is_active and user.email)
    return list(dict.fromkeys(address for address in addresses if address))


def _one_line(text: str, limit: int = 255) -> str:
    # A header with a line break is refused by Django (BadHeaderError).
    return " ".join(text.split())[:limit]


def queue_email(
    *, dedupe_key: str, kind: str, to: Iterable[str], subject: str, body: str, ics: str = ""
) -> OutboundEmail | None:
    """Write the email to the outbox in the current transaction and enqueue its
    sending after commit. The same ``dedupe_key`` twice is one email. Returns
    the row, or None when there is nobody to send to."""
    recipients = list(dict.fromkeys(address.strip() for address in to if address.strip()))
    if not recipients:
        logger.info("No recipients for %s; nothing queued.", dedupe_key)
        return None
    row, created = OutboundEmail.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "kind": kind,
            "to": recipients,
            "subject": _one_line(subject),
            "body": body,
            "ics": ics,
        },
    )
    if created:
        transaction.on_commit(partial(_enqueue, row.pk), robust=True)
    return row


def _enqueue(outbound_email_id: int) -> None:
    """Hand the row to a worker. Any failure — the broker is down, or (with
    tasks in-process) the mail server refused — is logged and left to the
    sweep: the row is already committed, so the caller's request succeeds."""
    from .tasks.email import send_email

    try:
        send_email.delay(outbound_email_id)
    except Exception:
        logger.warning(
            "Could not hand outbound email %s to a worker; the periodic sweep will send it.",
            outbound_email_id,
            exc_info=True,
        )


def _message(row: OutboundEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(row.to),
    )
    if row.ics:
        invite = MIMEText(row.ics, "calendar", "utf-8")
        # method=REQUEST makes mail clients offer the invite's accept buttons.
        invite.set_param("method", "REQUEST")
        invite.add_header("Content-Disposition", "attachment", filename="invite.ics")
        message.attach(invite)
    return message


def deliver(outbound_email_id: int) -> bool:
    """Send one outbox row if it is still unsent. True if this call sent it;
    False if it was already sent or another sender holds it right now. A send
    failure is recorded on the row (attempts, last_error) and re-raised."""
    with transaction.atomic():
        row = (
            OutboundEmail.objects.select_for_update(skip_locked=True)
            .filter(pk=outbound_email_id, sent_at__isnull=True)
            .first()
        )
        if row is None:
            return False
        # The claim: a conditional UPDATE on the locked, still-unsent row.
        claimed = OutboundEmail.objects.filter(pk=row.pk, sent_at__isnull=True).update(
            attempts=F("attempts") + 1
        )
        if claimed != 1:
            return False
        try:
            _message(row).send()
        except Exception as error:
            OutboundEmail.objects.filter(pk=row.pk).update(
                last_error=f"{type(error).__name__}: {error}"[:2000]
            )
            failure = error
        else:
            OutboundEmail.objects.filter(pk=row.pk, sent_at__isnull=True).update(
                sent_at=timezone.now(), last_error=""
            )
            return True
    raise failure


def send_pending(*, now: dt.datetime | None = None) -> int:
    """Send unsent rows older than SWEEP_GRACE (younger ones are still with the
    task enqueued on commit). Returns how many this call sent."""
    cutoff = (now or timezone.now()) - SWEEP_GRACE
    pending = list(
        OutboundEmail.objects.filter(
            sent_at__isnull=True, created_at__lte=cutoff, attempts__lt=MAX_SEND_ATTEMPTS
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = 0
    for outbound_email_id in pending:
        try:
            sent += deliver(outbound_email_id)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            # Recorded on the row; the next sweep tries again.
            logger.warning("Sending outbound email %s failed.", outbound_email_id, exc_info=True)
    return sent


# --- who gets what --------------------------------------------------------------------


def _admins() -> list[User]:
    return list(
        User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
        .order_by("pk")
    )


def _approvers(escalation: Escalation, admins: list[User] | None = None) -> list[User]:
    """The manager of the account's CSM; without one (or without an address),
    the CS operations admins, who may decide any escalation."""
    manager = escalation.risk.account.csm.manager
    if manager is not None and manager.is_active and manager.email.strip():
        return [manager]
    return _admins() if admins is None else admins


def _render(template: str, context: dict[str, Any]) -> str:
    return render_to_string(f"email/{template}", context)


def escalation_requested(escalation: Escalation) -> OutboundEmail | None:
    """A CSM asked to move a record up a tier: tell whoever approves it."""
    risk = escalation.risk
    account = risk.account
    approvers = _approvers(escalation)
    return queue_email(
        dedupe_key=f"escalation-requested:{escalation.pk}",
        kind=Kind.ESCALATION_REQUESTED,
        to=_addresses(approvers),
        subject=f"Escalation to tier {escalation.to_tier} requested: {account.name}",
        body=_render(
            "escalation_requested.txt",
            {
                "escalation": escalation,
                "risk": risk,
                "account": account,
                "requester": escalation.requested_by,
                "approvers": approvers,
                "url": risk_url(risk.pk),
            },
        ),
    )


def escalation_decided(escalation: Escalation) -> OutboundEmail | None:
    """Tell the requester that their escalation was approved or rejected."""
    if escalation.status not in (EscalationStatus.APPROVED, EscalationStatus.REJECTED):
        return None
    requester = escalation.requested_by
    if escalation.decided_by_id == requester.pk:
        return None  # approved at once by the requester themselves
    risk = escalation.risk
    account = risk.account
    outcome = escalation.get_status_display().lower()
    return queue_email(
        dedupe_key=f"escalation-decided:{escalation.pk}",
        kind=Kind.ESCALATION_DECIDED,
        to=_addresses([requester]),
        subject=f"Escalation to tier {escalation.to_tier} {outcome}: {account.name}",
        body=_render(
            "escalation_decided.txt",
            {
                "escalation": escalation,
                "outcome": outcome,
                "risk": risk,
                "account": account,
                "decider": escalation.decided_by,
                "url": risk_url(risk.pk),
            },
        ),
    )


def agenda_participants(agenda: Agenda, items: Iterable[Any]) -> list[str]:
    """The region's reviewers and managers, then the CSMs owning accounts with items."""
    people = list(
        User.objects.filter(
            region_id=agenda.region_id, role__in=(Role.REVIEWER, Role.MANAGER), is_active=True
        ).order_by("role", "last_name", "first_name", "pk")
    )
    people += [item.risk.account.csm for item in items]
    return _addresses(people)


def agenda_generated(agenda: Agenda) -> OutboundEmail | None:
    """Invite the participants to the meeting, with the items and a link."""
    from . import ics

    items = list(
        agenda.items.select_related(
            "risk__account__csm",
            "risk__account__segment",
            "risk__primary_cause",
            "risk__secondary_cause",
        )
    )
    order = {section: index for index, section in enumerate(SECTION_ORDER)}
    items.sort(key=lambda item: (order.get(item.section, len(order)), item.position))
    sections = [
        {"label": section.label, "items": [item for item in items if item.section == section]}
        for section in SECTION_ORDER
    ]
    region = agenda.region
    meeting_local = agenda.meeting_at.astimezone(zoneinfo.ZoneInfo(region.timezone))
    url = agenda_url(agenda)
    recipients = agenda_participants(agenda, items)
    return queue_email(
        dedupe_key=f"agenda-generated:{agenda.pk}",
        kind=Kind.AGENDA_GENERATED,
        to=recipients,
        subject=f"{region.code} cross-functional review — {meeting_local:%Y-%m-%d}",
        body=_render(
            "agenda_generated.txt",
            {
                "agenda": agenda,
                "region": region,
                # Formatted here: the template's date filter would show UTC.
                "meeting_local": f"{meeting_local:%A} {meeting_local.day} "
                f"{meeting_local:%B %Y, %H:%M}",
                "sections": sections,
                "item_count": len(items),
                "resolved": AgendaSection.RESOLVED,
                "url": url,
            },
        ),
        ics=ics.agenda_invite(agenda, attendees=recipients, url=url),
    )


def escalation_reminders(*, now: dt.datetime | None = None) -> int:
    """One email per approver listing the escalations that have waited more than
    two business days (on their region's wall clock). At most one per approver
    per UTC day. Returns how many emails are queued for today (a re-run counts
    the rows it found already queued)."""
    now = now or timezone.now()
    # More than N business days means more than N calendar days: a cheap SQL
    # pre-filter before the exact count in Python.
    candidates = (
        Escalation.objects.filter(
            status=EscalationStatus.PENDING,
            requested_at__lt=now - dt.timedelta(days=calendar.OVERDUE_AFTER_BUSINESS_DAYS),
        )
        .select_related("risk__account__region", "risk__account__csm__manager", "requested_by")
        .order_by("requested_at", "pk")
    )
    admins: list[User] | None = None
    by_approver: dict[int, tuple[User, list[Escalation]]] = {}
    for escalation in candidates:
        days = calendar.business_days_between(
            escalation.requested_at, now, escalation.risk.account.region.timezone
        )
        if not calendar.is_overdue(days):
            continue
        escalation.business_days_waiting = days
        if admins is None:
            admins = _admins()  # one query, only when something is overdue
        for approver in _approvers(escalation, admins):
            by_approver.setdefault(approver.pk, (approver, []))[1].append(escalation)

    day = now.astimezone(dt.UTC).date()
    queued = 0
    for approver, escalations in by_approver.values():
        row = queue_email(
            dedupe_key=f"escalation-reminder:{approver.pk}:{day.isoformat()}",
            kind=Kind.ESCALATION_REMINDER,
            to=_addresses([approver]),
            subject=(
                f"{len(escalations)} escalation{'s' if len(escalations) != 1 else ''} "
                "waiting for your decision for more than two business days"
            ),
            body=_render(
                "escalation_reminder.txt",
                {
                    "approver": approver,
                    "escalations": [
                        {"escalation": escalation, "url": risk_url(escalation.risk_id)}
                        for escalation in escalations
                    ],
                    "queue_url": absolute_url(reverse("risks:approvals")),
                },
            ),
        )
        queued += row is not None
    return queued
