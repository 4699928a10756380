from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import Account, Region, Role, Segment, User
from risks.models import (
    Escalation,
    EscalationStatus,
    Playbook,
    PlaybookStep,
    RiskRecord,
    RiskStatus,
    RootCause,
    StepOwner,
    Task,
    TaskSource,
)


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"R{n}")
    name = factory.LazyAttribute(lambda o: f"Region {o.code}")
    timezone = "Europe/Berlin"
    review_weekday = 2
    review_time = dt.time(15, 0)


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment
        django_get_or_create = ("code",)

    code = "enterprise"
    name = "Enterprise"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    # Names derived from the username keep searches in tests deterministic.
    first_name = factory.LazyAttribute(lambda o: o.username.split("-")[0].capitalize())
    last_name = "Example"
    role = Role.CSM
    region = factory.SubFactory(RegionFactory, code="EMEA")
    password = factory.django.Password("secret-pass-123")


class ManagerFactory(UserFactory):
    role = Role.MANAGER


class CsmFactory(UserFactory):
    role = Role.CSM
    manager = factory.SubFactory(ManagerFactory)


class ReviewerFactory(UserFactory):
    role = Role.REVIEWER
    department = "product"


class AdminFactory(UserFactory):
    role = Role.ADMIN
    region = None
    is_staff = True


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    external_id = factory.Sequence(lambda n: f"CRM-{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n} GmbH")
    region = factory.SubFactory(RegionFactory, code="EMEA")
    segment = factory.SubFactory(SegmentFactory)
    arr = Decimal("120000.00")
    renewal_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=120))
    csm = factory.SubFactory(CsmFactory)


class RootCauseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RootCause
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"cause-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").capitalize())
    category = "adoption"
    description = "Pick this when the test says so."
    active = True


class RiskRecordFactory(factory.django.DjangoModelFactory):
    """A record written straight to the database, for reads and set-up. Tests of
    the workflow itself go through risks.services."""

    class Meta:
        model = RiskRecord

    account = factory.SubFactory(AccountFactory)
    primary_cause = factory.SubFactory(RootCauseFactory)
    summary = "Usage dropped by half since the champion left."
    next_steps = "Exec sponsor call; relaunch training."
    arr_at_risk = factory.LazyAttribute(lambda o: o.account.arr)
    opened_by = factory.LazyAttribute(lambda o: o.account.csm)
    status = RiskStatus.OPEN


class EscalationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Escalation

    risk = factory.SubFactory(RiskRecordFactory)
    from_tier = factory.LazyAttribute(lambda o: o.risk.tier)
    to_tier = factory.LazyAttribute(lambda o: o.risk.tier + 1)
    status = EscalationStatus.PENDING
    reason = "Needs the manager's help."
    requested_by = factory.LazyAttribute(lambda o: o.risk.account.csm)


class PlaybookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Playbook

    name = factory.Sequence(lambda n: f"Play {n}")
    root_cause = factory.SubFactory(RootCauseFactory)
    segment = None
    active = True


class PlaybookStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlaybookStep

    playbook = factory.SubFactory(PlaybookFactory)
    position = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Step {n}")
    owner = StepOwner.CSM
    due_days = 5


class TaskFactory(factory.django.DjangoModelFactory):
    """A task written straight to the database (no timeline event)."""

    class Meta:
        model = Task

    risk = factory.SubFactory(RiskRecordFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    owner = factory.LazyAttribute(lambda o: o.risk.account.csm)
    due_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=7))
    source = TaskSource.MANUAL
    created_by = factory.LazyAttribute(lambda o: o.risk.account.csm)


class MeasureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "health.Measure"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"measure-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").capitalize())
    dimension = "current_state"
    kind = "number"
    better = "higher"
    scoring = "value"
    baseline_days = 90
    stale_after_days = 45


class ThresholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "health.Threshold"

    measure = factory.SubFactory(MeasureFactory)
    segment = None
    red = Decimal("0")
    green = Decimal("100")
    weight = 10


class ObservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "health.Observation"

    account = factory.SubFactory(AccountFactory)
    measure = factory.SubFactory(MeasureFactory)
    observed_on = factory.LazyFunction(lambda: timezone.now().date())
    value = Decimal("1")
    source = "api"
    recorded_at = factory.LazyFunction(timezone.now)


class RenewalFactory(factory.django.DjangoModelFactory):
    """A renewal; ``outcome`` churned sets arr_after to 0 unless given. It
    does not mark the account churned (the importer does): give the account
    a churned status yourself when a test needs both."""

    class Meta:
        model = "accounts.Renewal"

    account = factory.SubFactory(AccountFactory)
    renewal_date = factory.LazyFunction(lambda: timezone.now().date())
    outcome = "renewed"
    arr_before = Decimal("10000.00")
    arr_after = factory.LazyAttribute(
        lambda o: Decimal("0.00") if o.outcome == "churned" else o.arr_before
    )
    source = "api"
    recorded_at = factory.LazyFunction(timezone.now)
