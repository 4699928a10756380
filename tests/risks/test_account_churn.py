"""Closing a record as churned marks its account churned, in the same
transaction; a churned account takes no new record until an admin reactivates
it — through the service, the pages, the API and the admin alike."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Account, AccountStatus
from core.exceptions import Conflict, NotAllowed
from risks import selectors, services
from risks.models import RiskRecord, TimelineKind

pytestmark = pytest.mark.django_db


def _file(csm, account, cause):
    return services.risk_open(
        user=csm, account=account, primary_cause=cause, summary="Usage halved.", next_steps="Call."
    )


@pytest.fixture
def churned(csm, account, low_usage) -> Account:
    risk = _file(csm, account, low_usage)
    services.risk_close(user=csm, risk=risk, outcome="churned", note="Moved to a competitor.")
    account.refresh_from_db()
    return account


def test_closing_as_churned_marks_the_account_churned_today(churned):
    assert churned.status == AccountStatus.CHURNED
    assert churned.churned_on == timezone.localdate()


@pytest.mark.parametrize("outcome", ["saved", "withdrawn"])
def test_other_outcomes_leave_the_account_active(csm, account, low_usage, outcome):
    risk = _file(csm, account, low_usage)
    services.risk_close(user=csm, risk=risk, outcome=outcome, note="Done.")
    account.refresh_from_db()
    assert (account.status, account.churned_on) == (AccountStatus.ACTIVE, None)


def test_the_close_event_says_the_account_churned(churned):
    risk = RiskRecord.objects.get(account=churned)
    [closed] = risk.events.filter(kind=TimelineKind.CLOSED)
    assert closed.data["account_churned_on"] == churned.churned_on.isoformat()


def test_a_churned_account_takes_no_new_record(churned, csm, low_usage):
    with pytest.raises(Conflict) as refused:
        _file(csm, churned, low_usage)
    assert "an admin must reactivate the account" in refused.value.message
    assert RiskRecord.objects.filter(account=churned).count() == 1


def test_churned_accounts_are_not_offered_for_filing_nor_listed_as_renewing(churned, csm):
    assert not selectors.fileable_accounts(csm).filter(pk=churned.pk).exists()
    soon = selectors.accounts_renewing_soon(csm, days=100000)
    assert not soon.filter(pk=churned.pk).exists()


def test_only_an_admin_reactivates(churned, csm, manager, admin_user, low_usage):
    for user in (csm, manager):
        with pytest.raises(NotAllowed):
            account_services.account_reactivate(user=user, account=churned)

    account = account_services.account_reactivate(user=admin_user, account=churned)

    assert (account.status, account.churned_on) == (AccountStatus.ACTIVE, None)
    assert _file(csm, account, low_usage).is_open


def test_reactivating_an_active_account_is_a_conflict(account, admin_user):
    with pytest.raises(Conflict):
        account_services.account_reactivate(user=admin_user, account=account)


def test_the_account_page_says_churned_and_offers_no_filing(client, churned, csm):
    client.force_login(csm)

    html = client.get(reverse("customer_accounts:detail", args=[churned.pk])).content.decode()

    assert f"Churned on {churned.churned_on:%-d %b %Y}" in html
    assert "File a risk record" not in html
    assert "renews in" not in html


def test_the_api_shows_the_status_and_admins_reactivate(churned, csm, admin_user):
    api = APIClient()
    api.force_authenticate(csm)
    url = f"/api/v1/accounts/{churned.pk}/"
    body = api.get(url).json()
    assert (body["status"], body["churned_on"]) == ("churned", churned.churned_on.isoformat())
    assert api.post(f"{url}reactivate/").status_code == 403

    api.force_authenticate(admin_user)
    response = api.post(f"{url}reactivate/")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["churned_on"]) == ("active", None)
    assert api.post(f"{url}reactivate/").status_code == 409


def test_status_cannot_be_written_through_the_api(account, admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)

    api.patch(
        f"/api/v1/accounts/{account.pk}/",
        {"status": "churned", "churned_on": "2026-01-01"},
        format="json",
    )

    account.refresh_from_db()
    assert (account.status, account.churned_on) == (AccountStatus.ACTIVE, None)


def test_the_admin_reactivates_through_the_service(client, churned, admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)

    client.post(
        reverse("admin:accounts_account_changelist"),
        {"action": "reactivate", "_selected_action": [churned.pk]},
    )

    churned.refresh_from_db()
    assert churned.status == AccountStatus.ACTIVE


def test_the_migration_marks_accounts_whose_last_record_churned(csm, account, low_usage):
    import importlib

    from django.apps import apps

    risk = _file(csm, account, low_usage)
    services.risk_close(user=csm, risk=risk, outcome="churned", note="Gone.")
    # As the data was before accounts carried their churn:
    Account.objects.filter(pk=account.pk).update(status="active", churned_on=None)
    RiskRecord.objects.filter(pk=risk.pk).update(
        closed_at=timezone.make_aware(dt.datetime(2026, 3, 5, 12))
    )

    migration = importlib.import_module("risks.migrations.0006_mark_churned_accounts")
    migration.mark_churned(apps, None)

    account.refresh_from_db()
    assert (account.status, account.churned_on) == ("churned", dt.date(2026, 3, 5))
