"""The renewals API: everyone signed in lists, CS operations admins upload in
bulk (all or nothing, every bad row named), filters, and a list that costs
the same queries for 10 and 100 rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import AccountStatus, Renewal
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/v1/renewals/"
DAY = dt.date(2026, 3, 31)


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- who may: role by action ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "list_status", "upload_status"),
    [
        ("anonymous", 401, 401),
        ("csm", 200, 403),
        ("manager", 200, 403),
        ("reviewer", 200, 403),
        ("admin_user", 200, 200),
    ],
)
def test_permission_table(request, account, role, list_status, upload_status):
    user = None if role == "anonymous" else request.getfixturevalue(role)
    client = client_for(user)
    body = [
        {
            "account": account.pk,
            "renewal_date": DAY.isoformat(),
            "outcome": "churned",
            "arr_before": "120000.00",
        }
    ]

    assert client.get(URL).status_code == list_status
    assert client.post(URL, body, format="json").status_code == upload_status

    account.refresh_from_db()
    if upload_status == 200:
        assert Renewal.objects.get().account == account
        assert (account.status, account.churned_on) == (AccountStatus.CHURNED, DAY)
    else:
        assert not Renewal.objects.exists()
        assert account.status == AccountStatus.ACTIVE


def test_a_superuser_of_another_role_may_upload(account):
    superuser = factories.CsmFactory(username="root", is_superuser=True)
    body = [{"account": account.pk, "renewal_date": "2026-01-31", "outcome": "renewed"}]
    body[0] |= {"arr_before": 10, "arr_after": 12}
    assert client_for(superuser).post(URL, body, format="json").status_code == 200


def test_there_is_no_single_renewal_endpoint(admin_user):
    renewal = factories.RenewalFactory(renewal_date=DAY)
    client = client_for(admin_user)
    assert client.get(f"{URL}{renewal.pk}/").status_code == 404
    assert client.put(URL, [], format="json").status_code == 405
    assert client.delete(URL).status_code == 405


# --- the list -----------------------------------------------------------------------------------


@pytest.fixture
def renewals(account, other_region):
    """Four renewals on three accounts in two regions and two segments."""
    smb = factories.SegmentFactory(code="smb", name="SMB")
    american = factories.AccountFactory(region=other_region, segment=smb, external_id=None)
    third = factories.AccountFactory(external_id="CRM-THIRD")
    return {
        "mine_old": factories.RenewalFactory(
            account=account, renewal_date=DAY - dt.timedelta(days=365), outcome="renewed"
        ),
        "mine_new": factories.RenewalFactory(
            account=account,
            renewal_date=DAY,
            outcome="downsell",
            arr_before=Decimal("120000"),
            arr_after=Decimal("90000.5"),
        ),
        "american": factories.RenewalFactory(
            account=american, renewal_date=DAY - dt.timedelta(days=10), outcome="churned"
        ),
        "third": factories.RenewalFactory(
            account=third, renewal_date=DAY - dt.timedelta(days=40), outcome="renewed"
        ),
    }


def test_a_renewal_is_listed_with_its_account(csm, renewals):
    row = renewals["mine_new"]
    response = client_for(csm).get(URL, {"account": row.account_id, "outcome": "downsell"})

    result = response.json()["results"]
    assert result == [
        {
            "id": row.pk,
            "account": row.account_id,
            "account_external_id": row.account.external_id,
            "account_name": row.account.name,
            "renewal_date": "2026-03-31",
            "outcome": "downsell",
            "arr_before": "120000.00",
            "arr_after": "90000.50",
            "source": "api",
            "recorded_at": result[0]["recorded_at"],
        }
    ]


def test_an_account_without_an_external_id_is_listed_with_null(csm, renewals):
    response = client_for(csm).get(URL, {"region": "NA"})
    assert [row["account_external_id"] for row in response.json()["results"]] == [None]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["mine_new", "american", "third", "mine_old"]),  # newest renewal date first
        ({"outcome": "renewed"}, ["third", "mine_old"]),
        ({"outcome": "churned"}, ["american"]),
        ({"renewed_after": "2026-03-21"}, ["mine_new", "american"]),
        ({"renewed_before": "2026-03-21"}, ["american", "third", "mine_old"]),
        ({"renewed_after": "2026-02-19", "renewed_before": "2026-02-19"}, ["third"]),
        ({"region": "NA"}, ["american"]),
        ({"region": "EMEA"}, ["mine_new", "third", "mine_old"]),
        ({"segment": "smb"}, ["american"]),
        ({"segment": "enterprise", "outcome": "renewed"}, ["third", "mine_old"]),
        ({"source": "csv"}, []),
        ({"ordering": "renewal_date"}, ["mine_old", "third", "american", "mine_new"]),
    ],
)
def test_renewal_filters(csm, renewals, params, expected):
    assert ids(client_for(csm).get(URL, params)) == [renewals[name].pk for name in expected]


def test_renewals_filter_by_account(csm, renewals, account):
    response = client_for(csm).get(URL, {"account": account.pk})
    assert ids(response) == [renewals["mine_new"].pk, renewals["mine_old"].pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"renewed_after": "2026-04-01", "renewed_before": "2026-03-01"}, "renewed_after"),
        ({"renewed_after": "0001-01-01"}, "renewed_after"),
        ({"renewed_before": "soon"}, "renewed_before"),
        ({"account": 999999}, "account"),
        ({"outcome": "lost"}, "outcome"),
        ({"region": "MARS"}, "region"),
        ({"segment": "no-such"}, "segment"),
        ({"ordering": "arr_after"}, "ordering"),
    ],
)
def test_invalid_renewal_filters_are_400_naming_the_field(csm, params, field):
    response = client_for(csm).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()) == {field}


@pytest.fixture
def many_renewals():
    """110 renewals, each on its own account in its own region, so a query per
    row for the account would show."""
    for n in range(110):
        account = factories.AccountFactory(region=factories.RegionFactory(code=f"Q{n}"))
        factories.RenewalFactory(account=account, renewal_date=DAY - dt.timedelta(days=n))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 2),  # count, page
        ({"region": "Q1", "outcome": "renewed"}, 3),  # the region, count, page
        ({"segment": "enterprise", "renewed_after": "2020-01-01"}, 3),
    ],
)
def test_the_list_costs_the_same_queries_for_10_and_100_rows(
    csm, many_renewals, django_assert_num_queries, params, expected
):
    client = client_for(csm)
    with django_assert_num_queries(expected):
        small = client.get(URL, {**params, "page_size": 10})
    with django_assert_num_queries(expected):
        large = client.get(URL, {**params, "page_size": 100})

    assert small.status_code == large.status_code == 200
    if not params or "segment" in params:
        assert len(small.json()["results"]) == 10
        assert len(large.json()["results"]) == 100


# --- the upload -----------------------------------------------------------------------------


def test_an_upload_creates_then_replaces_and_marks_the_churned_account(admin_user, account):
    other = factories.AccountFactory()
    factories.RenewalFactory(account=account, renewal_date=DAY, outcome="renewed")
    rows = [
        {
            "account": account.pk,
            "renewal_date": DAY.isoformat(),
            "outcome": "downsell",
            "arr_before": 120000,
            "arr_after": "99500.50",
        },
        {
            "account_external_id": other.external_id,
            "renewal_date": DAY.isoformat(),
            "outcome": "churned",
            "arr_before": "45000",
            "arr_after": None,
        },
    ]

    response = client_for(admin_user).post(URL, rows, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "updated": 1}
    replaced = Renewal.objects.get(account=account)
    assert (replaced.outcome, replaced.arr_after, replaced.source) == (
        "downsell",
        Decimal("99500.50"),
        "api",
    )
    other.refresh_from_db()
    account.refresh_from_db()
    assert (other.status, other.churned_on) == (AccountStatus.CHURNED, DAY)
    assert account.status == AccountStatus.ACTIVE


def test_an_upload_with_bad_rows_writes_nothing_and_names_each_row_and_field(admin_user, account):
    rows = [
        {
            "account": account.pk,
            "renewal_date": DAY.isoformat(),
            "outcome": "churned",
            "arr_before": 10,
        },
        {
            "account": account.pk,
            "renewal_date": "2026-02-28",
            "outcome": "renewed",
            "arr_before": 10,
            "arr_after": 8,
        },
        {"account": account.pk, "renewal_date": "soon", "outcome": "won", "arr_before": 10},
    ]

    response = client_for(admin_user).post(URL, rows, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "row": 1,
                "field": "arr_after",
                "message": "A renewal keeps at least the ARR before: arr_after (8) is less "
                "than arr_before (10); send it as a downsell.",
            },
            {
                "row": 2,
                "field": "renewal_date",
                "message": "Enter a date as YYYY-MM-DD, e.g. 2026-06-30.",
            },
            {
                "row": 2,
                "field": "outcome",
                "message": 'Unknown outcome "won". The outcomes are: renewed, downsell, churned.',
            },
        ]
    }
    assert not Renewal.objects.exists()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


@pytest.mark.parametrize(
    "body",
    [{"account": 1}, "rows", [{"outcome": "renewed"}] * 10_001],
    ids=["object", "text", "too many"],
)
def test_an_upload_that_is_not_a_list_of_at_most_10000_rows_is_400(admin_user, body):
    response = client_for(admin_user).post(URL, body, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["row"] is None


def test_an_empty_upload_writes_nothing(admin_user):
    response = client_for(admin_user).post(URL, [], format="json")
    assert response.json() == {"created": 0, "updated": 0}
