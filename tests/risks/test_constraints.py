"""The database itself refuses invalid rows, whatever code writes them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.models import Account, Region, Segment
from risks.models import RiskRecord, RootCause, TimelineEvent
from tests import factories

pytestmark = pytest.mark.django_db


def refused(write) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def test_database_allows_one_open_record_per_account(account, low_usage):
    factories.RiskRecordFactory(account=account, primary_cause=low_usage)
    refused(lambda: factories.RiskRecordFactory(account=account, primary_cause=low_usage))


def test_database_allows_many_closed_records_per_account(account, low_usage):
    for _ in range(2):
        factories.RiskRecordFactory(
            account=account,
            primary_cause=low_usage,
            status="churned",
            closed_at=timezone.now(),
            arr_retained=Decimal("0"),
        )
    assert account.risks.count() == 2


def test_database_allows_one_pending_escalation_per_risk(account, low_usage):
    risk = factories.RiskRecordFactory(account=account, primary_cause=low_usage)
    factories.EscalationFactory(risk=risk)
    refused(lambda: factories.EscalationFactory(risk=risk))


def test_database_refuses_escalations_that_skip_a_tier(account, low_usage):
    risk = factories.RiskRecordFactory(account=account, primary_cause=low_usage)
    refused(lambda: factories.EscalationFactory(risk=risk, from_tier=1, to_tier=3))
    refused(lambda: factories.EscalationFactory(risk=risk, from_tier=3, to_tier=4))


def test_database_refuses_secondary_equal_to_primary(account, low_usage):
    refused(
        lambda: factories.RiskRecordFactory(
            account=account, primary_cause=low_usage, secondary_cause=low_usage
        )
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"tier": 0},
        {"tier": 4, "max_tier": 4},
        {"tier": 2, "max_tier": 1},
        {"arr_at_risk": Decimal("-1")},
        {"summary": ""},
        {"next_steps": ""},
        {"status": "lost"},
        {"status": "saved"},  # closed without closed_at / arr_retained
        {"closed_at": timezone.now()},  # open with a close date
    ],
)
def test_database_refuses_invalid_risk_rows(account, low_usage, fields):
    refused(lambda: factories.RiskRecordFactory(account=account, primary_cause=low_usage, **fields))


def test_database_refuses_arr_retained_above_arr_at_risk(account, low_usage):
    refused(
        lambda: factories.RiskRecordFactory(
            account=account,
            primary_cause=low_usage,
            status="saved",
            arr_at_risk=Decimal("10"),
            arr_retained=Decimal("10.01"),
            closed_at=timezone.now(),
        )
    )


def test_database_refuses_negative_account_arr_and_duplicate_ids(account):
    refused(lambda: factories.AccountFactory(arr=Decimal("-0.01")))
    refused(lambda: factories.AccountFactory(external_id=account.external_id))
    refused(lambda: factories.AccountFactory(external_id=""))
    # Accounts without a CRM id are fine, any number of them.
    factories.AccountFactory(external_id=None)
    factories.AccountFactory(external_id=None)
    assert Account.objects.filter(external_id__isnull=True).count() == 2


def test_codes_are_unique():
    refused(lambda: RootCause.objects.create(code="low-usage", name="x", category="adoption"))
    refused(lambda: Segment.objects.create(code="smb", name="Small"))
    factories.RegionFactory(code="NA")
    refused(
        lambda: Region.objects.create(
            code="NA", name="x", timezone="UTC", review_weekday=0, review_time="10:00"
        )
    )


def test_region_weekday_must_be_0_to_6():
    refused(lambda: factories.RegionFactory(code="XX", review_weekday=7))


def test_region_timezone_must_be_an_iana_name():
    region = factories.RegionFactory.build(code="BAD", timezone="Mars/Olympus")
    with pytest.raises(ValidationError) as error:
        region.full_clean()
    assert "timezone" in error.value.message_dict


def test_user_manager_must_be_a_manager(csm, other_csm):
    csm.manager = other_csm
    with pytest.raises(ValidationError) as error:
        csm.full_clean()
    assert "manager" in error.value.message_dict


def test_account_owner_must_be_a_csm_or_manager(account, reviewer):
    account.csm = reviewer
    with pytest.raises(ValidationError) as error:
        account.full_clean()
    assert "csm" in error.value.message_dict


def test_timeline_events_are_append_only(account, low_usage):
    risk = factories.RiskRecordFactory(account=account, primary_cause=low_usage)
    event = TimelineEvent.objects.create(risk=risk, kind="note", text="Original")
    event.text = "Rewritten"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    event.refresh_from_db()
    assert event.text == "Original"


def test_deleting_a_cause_in_use_is_refused(account, low_usage):
    factories.RiskRecordFactory(account=account, primary_cause=low_usage)
    with pytest.raises(ProtectedError):
        low_usage.delete()
    assert RiskRecord.objects.count() == 1


def test_database_refuses_to_rewrite_timeline_events_even_in_bulk(account, low_usage):
    risk = factories.RiskRecordFactory(account=account, primary_cause=low_usage)
    TimelineEvent.objects.create(risk=risk, kind="note", text="Original")
    refused(lambda: TimelineEvent.objects.filter(risk=risk).update(text="Rewritten"))
    assert TimelineEvent.objects.get(risk=risk).text == "Original"
