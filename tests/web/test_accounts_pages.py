"""The customer accounts list and the account page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Segment
from risks.models import RiskRecord, RiskStatus, RootCause
from tests import factories

pytestmark = pytest.mark.django_db

LIST_URL = reverse("customer_accounts:list")


def detail_url(account) -> str:
    return reverse("customer_accounts:detail", args=[account.pk])


def in_days(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def make_risk(account, *, status: str = RiskStatus.OPEN, **kwargs) -> RiskRecord:
    if status != RiskStatus.OPEN:
        kwargs.setdefault("closed_at", timezone.now() - dt.timedelta(days=3))
        kwargs.setdefault("closed_by", account.csm)
        kwargs.setdefault("arr_retained", Decimal("0"))
    kwargs.setdefault("primary_cause", RootCause.objects.get(code="low-usage"))
    kwargs.setdefault("opened_at", timezone.now() - dt.timedelta(days=40))
    return factories.RiskRecordFactory(account=account, status=status, **kwargs)


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [account.pk for account in response.context["accounts"]]


@pytest.fixture
def signed_in(client, csm):
    client.force_login(csm)
    return client


# --- list filters ---------------------------------------------------------------------


def test_list_shows_every_account_by_name(signed_in):
    bravo = factories.AccountFactory(name="Bravo")
    alpha = factories.AccountFactory(name="Alpha")

    assert listed(signed_in.get(LIST_URL)) == [alpha.pk, bravo.pk]


def test_region_filter_uses_the_region_code(signed_in):
    na = factories.RegionFactory(code="NA", timezone="America/New_York")
    match = factories.AccountFactory(region=na)
    factories.AccountFactory()

    assert listed(signed_in.get(LIST_URL, {"region": "NA"})) == [match.pk]


def test_segment_filter_uses_the_segment_code(signed_in):
    match = factories.AccountFactory(segment=Segment.objects.get(code="smb"))
    factories.AccountFactory()

    assert listed(signed_in.get(LIST_URL, {"segment": "smb"})) == [match.pk]


def test_csm_filter(signed_in, csm, other_csm):
    match = factories.AccountFactory(csm=csm)
    factories.AccountFactory(csm=other_csm)

    assert listed(signed_in.get(LIST_URL, {"csm": csm.pk})) == [match.pk]


@pytest.mark.parametrize(
    ("window", "inside", "outside"),
    [("30", 30, 31), ("90", 0, 91), ("180", 180, -1), ("overdue", -1, 0)],
)
def test_renewal_window_filter(signed_in, window, inside, outside):
    match = factories.AccountFactory(renewal_date=in_days(inside))
    factories.AccountFactory(renewal_date=in_days(outside))

    assert listed(signed_in.get(LIST_URL, {"renewal_within": window})) == [match.pk]


@pytest.mark.parametrize(
    ("param", "inside", "outside"),
    [("renewal_date_after", 60, 59), ("renewal_date_before", 60, 61)],
)
def test_renewal_date_bounds_are_inclusive(signed_in, param, inside, outside):
    match = factories.AccountFactory(renewal_date=in_days(inside))
    factories.AccountFactory(renewal_date=in_days(outside))

    assert listed(signed_in.get(LIST_URL, {param: in_days(60).isoformat()})) == [match.pk]


@pytest.mark.parametrize("term", ["northwind", "TRADING", "sf-00", "SF-0042"])
def test_search_matches_name_or_external_id(signed_in, term):
    match = factories.AccountFactory(name="Northwind Trading", external_id="SF-0042")
    factories.AccountFactory(name="Contoso", external_id="HS-1234")

    assert listed(signed_in.get(LIST_URL, {"search": term})) == [match.pk]


@pytest.mark.parametrize(("value", "expected"), [("true", "with_risk"), ("false", "without")])
def test_has_open_risk_filter(signed_in, value, expected):
    accounts = {
        "with_risk": factories.AccountFactory(name="A with risk"),
        "without": factories.AccountFactory(name="B without"),
    }
    make_risk(accounts["with_risk"])
    # A closed record does not count as an open risk.
    make_risk(accounts["without"], status=RiskStatus.SAVED)

    response = signed_in.get(LIST_URL, {"has_open_risk": value})

    assert listed(response) == [accounts[expected].pk]


@pytest.mark.parametrize(("ordering", "expected"), [("arr", [0, 1, 2]), ("-arr", [2, 1, 0])])
def test_list_sorts_by_arr_both_directions(signed_in, ordering, expected):
    accounts = [factories.AccountFactory(arr=Decimal(1000 * (index + 1))) for index in range(3)]

    assert listed(signed_in.get(LIST_URL, {"ordering": ordering})) == [
        accounts[index].pk for index in expected
    ]


@pytest.mark.parametrize(
    ("ordering", "expected"), [("renewal_date", [0, 1, 2]), ("-renewal_date", [2, 1, 0])]
)
def test_list_sorts_by_renewal_both_directions(signed_in, ordering, expected):
    accounts = [factories.AccountFactory(renewal_date=in_days(10 * index)) for index in range(3)]

    assert listed(signed_in.get(LIST_URL, {"ordering": ordering})) == [
        accounts[index].pk for index in expected
    ]


def health(score, band):
    account = factories.AccountFactory()
    account.__class__.objects.filter(pk=account.pk).update(
        health_score=score, health_band=band, health_as_of=timezone.localdate()
    )
    return account


@pytest.mark.parametrize(
    ("ordering", "expected"), [("health", [1, 2, 0, 3]), ("-health", [0, 2, 1, 3])]
)
def test_list_sorts_by_health_with_unscored_accounts_last(signed_in, ordering, expected):
    accounts = [health(90, "green"), health(20, "red"), health(55, "yellow"), health(None, "")]

    assert listed(signed_in.get(LIST_URL, {"ordering": ordering})) == [
        accounts[index].pk for index in expected
    ]


def test_health_filter_keeps_one_band(signed_in):
    health(90, "green")
    red = health(20, "red")
    health(None, "unknown")

    assert listed(signed_in.get(LIST_URL, {"health_band": "red"})) == [red.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"region": "MARS"},
        {"renewal_date_after": "tomorrow"},
        {"has_open_risk": "maybe"},
        {"health_band": "purple"},
    ],
)
def test_bad_filter_values_show_an_error_and_no_rows(signed_in, params):
    factories.AccountFactory()

    response = signed_in.get(LIST_URL, params)

    assert response.status_code == 200
    assert list(response.context["accounts"]) == []
    html = response.content.decode()
    assert "field-invalid" in html
    assert "No accounts are shown until the filters are fixed." in html


def test_list_pages_by_25(signed_in):
    for index in range(27):
        factories.AccountFactory(name=f"Account {index:02d}")

    first = signed_in.get(LIST_URL)
    second = signed_in.get(LIST_URL, {"page": 2})

    assert len(listed(first)) == 25
    assert len(listed(second)) == 2
    assert "27 accounts" in first.content.decode()


def test_list_row_links_the_open_risk_with_its_tier(signed_in):
    with_risk = factories.AccountFactory(name="A with risk")
    factories.AccountFactory(name="B without")
    risk = make_risk(with_risk, tier=3, max_tier=3)

    html = signed_in.get(LIST_URL).content.decode()

    assert reverse("risks:detail", args=[risk.pk]) in html
    assert "Tier 3 · Review" in html
    assert "No open risk" in html


@pytest.mark.parametrize("rows", [5, 50])
def test_list_query_count_does_not_grow_with_rows(
    signed_in, django_assert_max_num_queries, csm, other_csm, rows
):
    for index in range(rows):
        account = factories.AccountFactory(csm=csm if index % 2 else other_csm)
        if index % 2:
            make_risk(account, tier=1 + index % 3, max_tier=3)

    # session, user, regions, segments, CSMs, count, rows
    with django_assert_max_num_queries(7):
        response = signed_in.get(LIST_URL, {"page_size": 100})

    assert len(response.context["accounts"]) == rows


# --- account page ---------------------------------------------------------------------


def test_account_page_shows_the_facts_open_risk_and_past_records(
    signed_in, csm, manager, django_assert_max_num_queries
):
    account = factories.AccountFactory(
        csm=csm, name="Northwind Trading", external_id="SF-0042", arr=Decimal("250000")
    )
    defects = RootCause.objects.get(code="defects")
    open_risk = make_risk(
        account, tier=2, max_tier=2, secondary_cause=defects, summary="Usage halved."
    )
    saved = make_risk(
        account,
        status=RiskStatus.SAVED,
        arr_at_risk=Decimal("100000"),
        arr_retained=Decimal("80000"),
        opened_at=timezone.now() - dt.timedelta(days=400),
        closed_at=timezone.now() - dt.timedelta(days=300),
    )
    churned = make_risk(
        account,
        status=RiskStatus.CHURNED,
        opened_at=timezone.now() - dt.timedelta(days=800),
        closed_at=timezone.now() - dt.timedelta(days=700),
    )

    # session, user, account, its risk records, its newest health score, its
    # latest observations, its renewals, the risk rules holding for it
    # (tests/health/test_pages.py pins a scored account)
    with django_assert_max_num_queries(8):
        response = signed_in.get(detail_url(account))

    assert response.status_code == 200
    assert response.context["open_risk"] == open_risk
    assert [risk.pk for risk in response.context["past_risks"]] == [saved.pk, churned.pk]
    html = response.content.decode()
    for text in (
        "Northwind Trading",
        "SF-0042",
        "250,000",
        str(csm),
        str(manager),
        "Tier 2 · Manager",
        "Defects",
        "Usage halved.",
        reverse("risks:detail", args=[open_risk.pk]),
        "Saved",
        "Churned",
        "80,000",
        reverse("risks:detail", args=[saved.pk]),
    ):
        assert text in html
    assert "No open risk" not in html


def test_account_page_query_count_does_not_grow_with_past_records(
    signed_in, django_assert_max_num_queries
):
    account = factories.AccountFactory()
    for index in range(12):
        make_risk(
            account,
            status=RiskStatus.SAVED,
            secondary_cause=RootCause.objects.get(code="defects"),
            opened_at=timezone.now() - dt.timedelta(days=100 + 30 * index),
            closed_at=timezone.now() - dt.timedelta(days=90 + 30 * index),
        )

    with django_assert_max_num_queries(8):
        response = signed_in.get(detail_url(account))

    assert len(response.context["past_risks"]) == 12


def test_account_without_open_risk_says_so(signed_in):
    account = factories.AccountFactory()

    response = signed_in.get(detail_url(account))

    assert "No open risk." in response.content.decode()
    assert "No past risk records." in response.content.decode()


def test_unknown_account_is_404(signed_in):
    assert signed_in.get(reverse("customer_accounts:detail", args=[999999])).status_code == 404


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("owning_csm", True),
        ("team_manager", True),
        ("other_csm", False),
        ("other_manager", False),
        ("reviewer", False),
        ("admin", True),
    ],
)
def test_file_button_shows_only_to_who_may_file_on_the_account(
    client, account, csm, manager, other_csm, other_manager, reviewer, admin_user, role, shown
):
    people = {
        "owning_csm": csm,
        "team_manager": manager,
        "other_csm": other_csm,
        "other_manager": other_manager,
        "reviewer": reviewer,
        "admin": admin_user,
    }
    client.force_login(people[role])

    html = client.get(detail_url(account)).content.decode()

    file_link = f"{reverse('risks:file')}?account={account.pk}"
    assert (file_link in html) is shown
    assert ("File a risk record" in html) is shown


def test_file_button_is_hidden_while_a_record_is_open(client, account, csm):
    make_risk(account)
    client.force_login(csm)

    html = client.get(detail_url(account)).content.decode()

    assert "File a risk record" not in html


# --- sign-in --------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, account):
    for url in (LIST_URL, detail_url(account)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
