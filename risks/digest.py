"""The weekly digest: one email per person who chose it in their profile
(``User.weekly_digest``), on Monday from 07:00 in their region's time zone,
with these sections in the person's scope:

- open risk records: a CSM's on the accounts they own, a manager's on their
  own and their team's accounts, a reviewer's at tier 3 in their region (every
  region without one), an admin's at tier 2 or 3 everywhere;
- tasks due: their open tasks on open records that are overdue or due within
  the next seven days (a reviewer's also their department's tasks with no
  single owner, in their region);
- accounts that turned red in the seven days before the Monday (the previous
  Monday to Sunday): an active account in scope with a red health score in
  that week whose previous score was not red, or that was its first. The
  scope is a CSM's own accounts, a manager's team's, a reviewer's region's
  and, for an admin, every account;
- the sections that apps above this one add (``register_digest_section``),
  over the same active accounts in scope and the same week: the risk rules
  that matched, for one (the rules app adds it).

Nothing in any section: no email. People on the digest get neither the daily
email of overdue tasks (``notifications.task_reminders``) nor the email of a
matched risk rule (its match is in the digest instead); escalations and
review invitations still reach them, as they ask for a decision or carry an
invitation.

Each section is one query (two when it is longer than the email shows), the
same for every number of accounts."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, AccountStatus, HealthBand, User
from health.models import HealthScore
from notifications.models import OutboundMessage
from notifications.outbox import absolute_url, addresses, queue_email

from . import selectors
from .links import risk_url
from .models import RiskRecord, RiskStatus, Task, Tier

KIND = "weekly_digest"
# Monday, from this local time on: the first beat tick after it sends.
SEND_WEEKDAY = 0
SEND_AT = dt.time(7, 0)
# Tasks due up to this many days after the Monday are listed.
TASKS_AHEAD_DAYS = 7
# The week a digest looks back on (the accounts that turned red, the added
# sections): this many days before the Monday.
RED_WINDOW_DAYS = 7
# An email lists at most this many rows per section; the pages have them all.
SECTION_LIMIT = 50


@dataclass(frozen=True)
class Section:
    """The first rows of a section (at most ``SECTION_LIMIT``) and how many
    there are in all."""

    rows: list[dict[str, Any]]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


# --- the sections that apps above this one add ---


@dataclass(frozen=True)
class Line:
    """One row of an added section: its text and the links under it."""

    text: str
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddedSection:
    """A section an app above this one adds: its heading, its first rows (at
    most ``SECTION_LIMIT``), how many there are in all, the page that has
    them all, and how the subject counts them (``"2 rule matches"``)."""

    title: str
    rows: list[Line]
    total: int
    url: str
    summary: str

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


@dataclass(frozen=True)
class DigestWindow:
    """The week a digest looks back on: the seven days before the day it is
    composed on, on the person's clock (``start`` inclusive, ``end``
    exclusive: midnight at either end, in ``zone``)."""

    first_day: dt.date
    last_day: dt.date
    zone: zoneinfo.ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time.min, tzinfo=self.zone)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(
            self.last_day + dt.timedelta(days=1), dt.time.min, tzinfo=self.zone
        )


@dataclass(frozen=True)
class DigestScope:
    """Whose digest it is, and which accounts it speaks of."""

    person: User

    def accounts(self, prefix: str = "") -> Q:
        """The active accounts in the person's scope (the accounts of the
        section of accounts that turned red), as a filter on the account at
        ``prefix`` (e.g. ``"account__"`` on a row that belongs to an account)."""
        return _account_scope(self.person, prefix) & Q(**{f"{prefix}status": AccountStatus.ACTIVE})

    @property
    def where(self) -> str:
        """The scope in words, to follow a heading: ``"on your accounts"``,
        ``"on your team's accounts"``, ``"in EMEA"``; empty for an admin."""
        return _where(self.person)


SectionProvider = Callable[[DigestScope, DigestWindow], AddedSection]
_added_sections: list[SectionProvider] = []


def register_digest_section(provider: SectionProvider) -> None:
    """Called by an app above this one, from its AppConfig.ready: every
    digest gets the section ``provider`` makes of the person's scope and the
    week, after the sections of this app. It reads in a fixed number of
    queries whatever the number of accounts (``first_rows`` helps)."""
    if provider not in _added_sections:
        _added_sections.append(provider)


Described = TypeVar("Described")


def first_rows(rows: QuerySet, describe: Callable[[Any], Described]) -> tuple[list[Described], int]:
    """The first ``SECTION_LIMIT`` of ``rows``, each described, and how many
    there are in all: one query, two when there are more than that."""
    found = list(rows[: SECTION_LIMIT + 1])
    total = len(found) if len(found) <= SECTION_LIMIT else rows.count()
    return [describe(row) for row in found[:SECTION_LIMIT]], total


@dataclass(frozen=True)
class Digest:
    person: User
    week_start: dt.date  # the Monday it is sent on
    risks: Section
    tasks: Section
    red_accounts: Section
    added: tuple[AddedSection, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.risks.total
            or self.tasks.total
            or self.red_accounts.total
            or any(section.total for section in self.added)
        )


def person_zone(person: User) -> zoneinfo.ZoneInfo:
    """The time zone of the person's region; the site's without a region (or
    with a region whose zone is unknown). Loads the region."""
    if person.region_id is not None:
        try:
            return zoneinfo.ZoneInfo(person.region.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def digest_week(person: User, now: dt.datetime) -> str | None:
    """The ISO week (``2026-W11``) whose digest is due for the person at
    ``now``: Monday at or after 07:00 on their clock. None at any other time,
    so a Monday the beat missed entirely is not made up on Tuesday."""
    local = now.astimezone(person_zone(person))
    if local.weekday() != SEND_WEEKDAY or local.time() < SEND_AT:
        return None
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def dedupe_key(person: User, week: str) -> str:
    return f"weekly-digest:{person.pk}:{week}"


# --- the scope of each role ---


def _risk_scope(person: User) -> Q:
    if person.is_cs_admin:
        return Q(tier__gte=Tier.MANAGER)
    if person.is_manager:
        return selectors.team_scope(person)
    if person.is_reviewer:
        scope = Q(tier=Tier.REVIEW)
        if person.region_id is not None:
            scope &= Q(account__region_id=person.region_id)
        return scope
    return Q(account__csm=person)


def _account_scope(person: User, prefix: str = "") -> Q:
    if person.is_cs_admin:
        return Q()
    if person.is_manager:
        return selectors.team_scope(person, prefix=prefix)
    if person.is_reviewer:
        if person.region_id is None:
            return Q()
        return Q(**{f"{prefix}region_id": person.region_id})
    return Q(**{f"{prefix}csm": person})


def _where(person: User) -> str:
    if person.is_cs_admin:
        return ""
    if person.is_manager:
        return "on your team's accounts"
    if person.is_reviewer:
        return f"in {person.region.code}" if person.region_id is not None else "in every region"
    return "on your accounts"


def _task_scope(person: User) -> Q:
    """The person's own tasks; a reviewer's also their department's tasks with
    no single owner, in their region if they have one."""
    mine = Q(owner=person)
    if person.is_reviewer and person.department:
        department = Q(owner__isnull=True, department=person.department)
        if person.region_id is not None:
            department &= Q(risk__account__region_id=person.region_id)
        mine |= department
    return mine


# --- the sections of this app ---


def _section(rows: QuerySet, describe: Callable[[Any], dict[str, Any]]) -> Section:
    described, total = first_rows(rows, describe)
    return Section(rows=described, total=total)


def open_risks(person: User) -> QuerySet[RiskRecord]:
    """The open records of the person's digest, highest tier first."""
    return selectors.open_risks(_risk_scope(person))


def due_tasks(person: User, today: dt.date) -> QuerySet[Task]:
    """The person's open tasks on open records due by ``today`` plus seven
    days (the overdue ones included), soonest first."""
    return (
        Task.objects.filter(
            _task_scope(person),
            done_at__isnull=True,
            due_date__lte=today + dt.timedelta(days=TASKS_AHEAD_DAYS),
            risk__status=RiskStatus.OPEN,
        )
        .select_related("risk__account")
        .order_by("due_date", "pk")
    )


def red_turns(first_day: dt.date, last_day: dt.date) -> QuerySet[HealthScore]:
    """Health scores from ``first_day`` to ``last_day`` that turned their
    account red: red, after a score that was not red or after none."""
    previous_band = (
        HealthScore.objects.filter(account=OuterRef("account"), as_of__lt=OuterRef("as_of"))
        .order_by("-as_of")
        .values("band")[:1]
    )
    return (
        HealthScore.objects.filter(as_of__gte=first_day, as_of__lte=last_day, band=HealthBand.RED)
        .annotate(previous_band=Subquery(previous_band))
        .filter(Q(previous_band__isnull=True) | ~Q(previous_band=HealthBand.RED))
    )


def accounts_turned_red(person: User, today: dt.date) -> QuerySet[Account]:
    """Active accounts in the person's scope that turned red in the seven days
    before ``today``, with the day (``turned_red_on``) and score
    (``turned_red_score``) of the first such turn; in that order, then the
    larger ARR."""
    first_day = today - dt.timedelta(days=RED_WINDOW_DAYS)
    last_day = today - dt.timedelta(days=1)
    turns = red_turns(first_day, last_day)
    first_turn = turns.filter(account=OuterRef("pk")).order_by("as_of")
    return (
        Account.objects.filter(DigestScope(person).accounts(), pk__in=turns.values("account_id"))
        .annotate(
            turned_red_on=Subquery(first_turn.values("as_of")[:1]),
            turned_red_score=Subquery(first_turn.values("score")[:1]),
        )
        .select_related("region", "csm")
        .order_by("turned_red_on", "-arr", "name", "pk")
    )


def compose(person: User, now: dt.datetime) -> Digest:
    """The digest of the person at ``now`` (their region's date is its day),
    with the sections of the apps above this one last."""
    zone = person_zone(person)
    today = now.astimezone(zone).date()
    window = DigestWindow(
        first_day=today - dt.timedelta(days=RED_WINDOW_DAYS),
        last_day=today - dt.timedelta(days=1),
        zone=zone,
    )

    def risk_row(risk: RiskRecord) -> dict[str, Any]:
        return {"risk": risk, "url": risk_url(risk.pk)}

    def task_row(task: Task) -> dict[str, Any]:
        return {
            "task": task,
            "days_late": max((today - task.due_date).days, 0),
            "days_left": max((task.due_date - today).days, 0),
            "url": risk_url(task.risk_id),
        }

    def account_row(account: Account) -> dict[str, Any]:
        return {
            "account": account,
            "still_red": account.health_band == HealthBand.RED,
            "url": absolute_url(reverse("customer_accounts:detail", kwargs={"pk": account.pk})),
        }

    return Digest(
        person=person,
        week_start=today - dt.timedelta(days=today.weekday()),
        risks=_section(open_risks(person), risk_row),
        tasks=_section(due_tasks(person, today), task_row),
        red_accounts=_section(accounts_turned_red(person, today), account_row),
        added=tuple(provider(DigestScope(person), window) for provider in _added_sections),
    )


def _headings(person: User) -> dict[str, str]:
    """The email's section headings, naming the person's scope."""
    if person.is_cs_admin:
        return {
            "risks": "Open risk records at tier 2 or 3",
            "tasks": "Your tasks due",
            "accounts": "Accounts that turned red",
        }
    if person.is_manager:
        return {
            "risks": "Open risk records on your team's accounts",
            "tasks": "Your tasks due",
            "accounts": "Your team's accounts that turned red",
        }
    if person.is_reviewer:
        where = f"in {person.region.code}" if person.region_id is not None else "in every region"
        department = person.get_department_display()
        return {
            "risks": f"Open tier-3 risk records {where}",
            "tasks": f"Your tasks and {department}'s due" if department else "Your tasks due",
            "accounts": f"Accounts {where} that turned red",
        }
    return {
        "risks": "Open risk records on your accounts",
        "tasks": "Your tasks due",
        "accounts": "Your accounts that turned red",
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def render(digest: Digest) -> tuple[str, str]:
    """The subject and plain-text body of a digest."""
    subject = (
        f"Your weekly digest: {_count(digest.risks.total, 'open record')}, "
        f"{_count(digest.tasks.total, 'task')} due, "
        f"{_count(digest.red_accounts.total, 'account')} turned red"
        + "".join(f", {section.summary}" for section in digest.added)
    )
    body = render_to_string(
        "email/weekly_digest.txt",
        {
            "digest": digest,
            "person": digest.person,
            "headings": _headings(digest.person),
            "week_start": digest.week_start,
            "red_from": digest.week_start - dt.timedelta(days=RED_WINDOW_DAYS),
            "red_to": digest.week_start - dt.timedelta(days=1),
            "risks_url": absolute_url(reverse("risks:list")),
            "tasks_url": absolute_url(reverse("tasks:index")),
            "health_url": absolute_url(reverse("health:index")),
            "profile_url": absolute_url(reverse("profile")),
        },
    )
    return subject, body


def send_weekly_digests(*, now: dt.datetime | None = None) -> int:
    """Queue the digest of everyone on it (active, with an address) whose
    clock shows Monday at or after 07:00 and who has not had this week's:
    once per person and ISO week (the outbox's dedupe key), so a re-run or the
    next beat tick sends nothing new. A digest with nothing in it is not sent
    (and is looked at again on the next tick of that Monday). Each email is
    its own transaction. Returns how many emails this run queued."""
    now = now or timezone.now()
    people = (
        User.objects.filter(weekly_digest=True, is_active=True)
        .exclude(email="")
        .select_related("region")
        .order_by("pk")
    )
    due: dict[str, User] = {}
    for person in people:
        week = digest_week(person, now)
        if week is not None:
            due[dedupe_key(person, week)] = person
    if not due:
        return 0
    sent = set(
        OutboundMessage.objects.filter(dedupe_key__in=list(due)).values_list(
            "dedupe_key", flat=True
        )
    )
    queued = 0
    for key, person in due.items():
        if key in sent:
            continue
        with transaction.atomic():
            digest = compose(person, now)
            if digest.is_empty:
                continue
            subject, body = render(digest)
            row = queue_email(
                dedupe_key=key, kind=KIND, to=addresses([person]), subject=subject, body=body
            )
        queued += row is not None
    return queued
