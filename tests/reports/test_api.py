"""reports/outcomes/, reports/open-risk/ and reports/trend/ (docs/api.md):
JSON shapes, ``?format=csv``, 400s that say what is allowed, 401, and a query
count that does not depend on the number of records. The figures themselves
are checked on a larger dataset in tests/reports/test_selectors.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from risks.models import RiskStatus, RootCause
from tests import factories
from tests.csv_text import csv_text

pytestmark = pytest.mark.django_db

OUTCOMES = "/api/v1/reports/outcomes/"
OPEN_RISK = "/api/v1/reports/open-risk/"
TREND = "/api/v1/reports/trend/"


def closed(
    cause: RootCause,
    status: str,
    arr_at_risk: str,
    arr_retained: str,
    opened_at: dt.datetime,
    closed_at: dt.datetime,
    **account: object,
):
    return factories.RiskRecordFactory(
        account=factories.AccountFactory(arr=Decimal(arr_at_risk), **account),
        primary_cause=cause,
        status=status,
        arr_at_risk=Decimal(arr_at_risk),
        arr_retained=Decimal(arr_retained),
        opened_at=opened_at,
        closed_at=closed_at,
    )


@pytest.fixture
def api(reviewer) -> APIClient:
    client = APIClient()
    client.force_authenticate(reviewer)
    return client


@pytest.fixture
def records(low_usage, defects):
    """low-usage: a downsell save (10 days) and a withdrawal (2 days);
    defects: a churn (5 days). One open record renewing in July 2025."""
    jan = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    closed(low_usage, RiskStatus.SAVED, "1000.00", "600.00", jan, jan + dt.timedelta(days=10))
    closed(low_usage, RiskStatus.WITHDRAWN, "500.00", "0", jan, jan + dt.timedelta(days=2))
    closed(defects, RiskStatus.CHURNED, "2000.00", "0", jan, jan + dt.timedelta(days=5))
    factories.RiskRecordFactory(
        account=factories.AccountFactory(arr=Decimal("700.00"), renewal_date=dt.date(2025, 7, 9)),
        primary_cause=defects,
        tier=2,
        max_tier=2,
    )


def test_outcomes_json_has_the_documented_shape(api, records):
    response = api.get(OUTCOMES)
    assert response.status_code == 200
    assert response.json() == {
        "group_by": "primary_cause",
        "rows": [
            {
                "key": "defects",
                "label": "Defects",
                "saved": 0,
                "churned": 1,
                "withdrawn": 0,
                "save_rate": 0.0,
                "arr_saved": "0.00",
                "arr_lost": "2000.00",
                "median_days_to_close": 5.0,
            },
            {
                "key": "low-usage",
                "label": "Low usage",
                "saved": 1,
                "churned": 0,
                "withdrawn": 1,
                "save_rate": 1.0,
                "arr_saved": "600.00",
                "arr_lost": "400.00",
                "median_days_to_close": 6.0,
            },
        ],
        "totals": {
            "key": None,
            "label": "Total",
            "saved": 1,
            "churned": 1,
            "withdrawn": 1,
            "save_rate": 0.5,
            "arr_saved": "600.00",
            "arr_lost": "2400.00",
            "median_days_to_close": 5.0,
        },
    }


def test_outcomes_rates_are_numbers_rounded_to_four_places(api, records, low_usage):
    jan = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    closed(low_usage, RiskStatus.CHURNED, "10.00", "0", jan, jan + dt.timedelta(days=1))
    body = api.get(OUTCOMES, {"group_by": "category"}).json()
    # adoption: 1 saved, 1 churned; totals: 1 saved of 3.
    assert body["rows"][0]["save_rate"] == 0.5
    assert body["totals"]["save_rate"] == 0.3333


def test_outcomes_null_save_rate_and_null_keys(api, records):
    body = api.get(OUTCOMES, {"group_by": "secondary_cause", "closed_before": "2025-01-03"}).json()
    # Only the withdrawal (closed 3 January) is left, with no secondary cause.
    assert body["rows"] == [
        {
            "key": None,
            "label": "No secondary cause",
            "saved": 0,
            "churned": 0,
            "withdrawn": 1,
            "save_rate": None,
            "arr_saved": "0.00",
            "arr_lost": "0.00",
            "median_days_to_close": 2.0,
        }
    ]


def test_outcomes_filters_by_region_and_segment(api, records):
    factories.RegionFactory(code="NA")
    assert api.get(OUTCOMES, {"region": "NA"}).json()["rows"] == []
    body = api.get(OUTCOMES, {"region": "EMEA", "segment": "enterprise"}).json()
    assert body["totals"]["saved"] == 1


def test_outcomes_csv_has_the_same_columns(api, records):
    response = api.get(OUTCOMES, {"format": "csv", "group_by": "max_tier"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="outcomes-by-max_tier.csv"'
    lines = list(csv.reader(io.StringIO(csv_text(response.content))))
    assert lines == [
        [
            "key",
            "label",
            "saved",
            "churned",
            "withdrawn",
            "save_rate",
            "arr_saved",
            "arr_lost",
            "median_days_to_close",
        ],
        ["1", "Tier 1 — CSM", "1", "1", "1", "0.5000", "600.00", "2400.00", "5.0"],
        ["", "Total", "1", "1", "1", "0.5000", "600.00", "2400.00", "5.0"],
    ]


def test_json_is_explicit_with_format_json(api, records):
    response = api.get(OUTCOMES, {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("url", "query", "field", "message"),
    [
        (
            OUTCOMES,
            {"group_by": "colour"},
            "group_by",
            "Unknown group_by 'colour'; use one of: primary_cause, secondary_cause, "
            "category, region, segment, max_tier, csm, month, quarter.",
        ),
        (OUTCOMES, {"closed_after": "1/2/2025"}, "closed_after", "Enter a date as YYYY-MM-DD."),
        (TREND, {"closed_before": "2025-13-01"}, "closed_before", "Enter a date as YYYY-MM-DD."),
        (
            OUTCOMES,
            {"closed_after": "2025-02-01", "closed_before": "2025-01-01"},
            "closed_before",
            "closed_before must be on or after closed_after.",
        ),
        (OUTCOMES, {"region": "MARS"}, "region", "Unknown region 'MARS'; use one of: EMEA."),
        (OPEN_RISK, {"region": "MARS"}, "region", "Unknown region 'MARS'; use one of: EMEA."),
        (
            OPEN_RISK,
            {"period": "week"},
            "period",
            "Unknown period 'week'; use one of: month, quarter.",
        ),
        (OUTCOMES, {"format": "xml"}, "format", "Unknown format 'xml'; use one of: json, csv."),
        (
            OUTCOMES,
            {"format": "csv", "group_by": "colour"},
            "group_by",
            "Unknown group_by 'colour'; use one of: primary_cause, secondary_cause, "
            "category, region, segment, max_tier, csm, month, quarter.",
        ),
    ],
)
def test_bad_parameters_are_a_400_that_says_what_is_allowed(
    api, region, url, query, field, message
):
    response = api.get(url, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {field: [message]}


def test_segment_error_lists_the_segment_codes(api):
    response = api.get(OUTCOMES, {"segment": "tiny"})
    assert response.status_code == 400
    assert response.json() == {
        "segment": ["Unknown segment 'tiny'; use one of: enterprise, mid-market, smb, strategic."]
    }


@pytest.mark.parametrize("url", [OUTCOMES, OPEN_RISK, TREND])
@pytest.mark.parametrize("query", [{}, {"format": "csv"}])
def test_anonymous_requests_are_401(url, query):
    response = APIClient().get(url, query)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_token_signs_in(reviewer, records):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=reviewer)[1]}")
    assert client.get(OUTCOMES).status_code == 200


def test_open_risk_json_and_csv(api, records):
    body = api.get(OPEN_RISK, {"period": "quarter"}).json()
    assert body == {
        "period": "quarter",
        "periods": ["2025-Q3"],
        "rows": [{"period": "2025-Q3", "tier": 2, "count": 1, "arr_at_risk": "700.00"}],
        "by_tier": [
            {"tier": 1, "count": 0, "arr_at_risk": "0.00"},
            {"tier": 2, "count": 1, "arr_at_risk": "700.00"},
            {"tier": 3, "count": 0, "arr_at_risk": "0.00"},
        ],
        "totals": {"count": 1, "arr_at_risk": "700.00"},
    }
    response = api.get(OPEN_RISK, {"format": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="open-risk-month.csv"'
    assert list(csv.reader(io.StringIO(csv_text(response.content)))) == [
        ["period", "tier", "count", "arr_at_risk"],
        ["2025-07", "2", "1", "700.00"],
        ["Total", "", "1", "700.00"],
    ]


def test_trend_json_and_csv(api, records):
    body = api.get(TREND).json()
    assert body == {
        "months": ["2025-01"],
        "categories": [
            {"category": "adoption", "label": "Adoption"},
            {"category": "product", "label": "Product"},
        ],
        "rows": [
            {
                "month": "2025-01",
                "category": "adoption",
                "category_label": "Adoption",
                "saved": 1,
                "churned": 0,
                "arr_saved": "600.00",
                "arr_lost": "400.00",
            },
            {
                "month": "2025-01",
                "category": "product",
                "category_label": "Product",
                "saved": 0,
                "churned": 1,
                "arr_saved": "0.00",
                "arr_lost": "2000.00",
            },
        ],
    }
    response = api.get(TREND, {"format": "csv", "closed_after": "2025-02-01"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_text(response.content).splitlines() == [
        "month,category,category_label,saved,churned,arr_saved,arr_lost"
    ]


def _query_counts(api: APIClient) -> dict[tuple[str, str], int]:
    counts = {}
    for url, query in [
        (OUTCOMES, {}),
        (OUTCOMES, {"group_by": "csm", "region": "EMEA", "segment": "enterprise"}),
        (OUTCOMES, {"group_by": "month", "format": "csv"}),
        (OPEN_RISK, {"period": "quarter", "region": "EMEA"}),
        (TREND, {"closed_after": "2024-01-01"}),
    ]:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(url, query).status_code == 200
        counts[(url, str(query))] = len(captured)
    return counts


def _add_records(count: int, causes: list[RootCause]) -> None:
    for n in range(count):
        start = dt.datetime(2024, 1 + n % 12, 1 + n % 27, tzinfo=dt.UTC)
        status = [RiskStatus.SAVED, RiskStatus.CHURNED, RiskStatus.WITHDRAWN, RiskStatus.OPEN][
            n % 4
        ]
        factories.RiskRecordFactory(
            account=factories.AccountFactory(
                csm=factories.CsmFactory(username=f"csm-{n}"),
                renewal_date=dt.date(2025, 1 + n % 12, 1),
            ),
            primary_cause=causes[n % len(causes)],
            status=status,
            tier=1 + n % 3 if status == RiskStatus.OPEN else 1,
            max_tier=1 + n % 3,
            arr_retained=None if status == RiskStatus.OPEN else Decimal("0"),
            opened_at=start,
            closed_at=None if status == RiskStatus.OPEN else start + dt.timedelta(days=n + 1),
        )


def test_query_count_is_the_same_for_5_and_50_records(api, region):
    causes = list(RootCause.objects.all())
    _add_records(5, causes)
    with_5 = _query_counts(api)
    _add_records(45, causes)
    with_50 = _query_counts(api)
    assert with_50 == with_5
    # Outcomes: the groups and the totals (+ one lookup per region/segment
    # filter); Open risk and Trend: one aggregate query (+ the same lookups).
    assert list(with_5.values()) == [2, 4, 2, 2, 1]


def test_every_bad_parameter_is_reported_at_once(api, region):
    response = api.get(
        OPEN_RISK, {"format": "pdf", "period": "day", "region": "MARS", "closed_after": "x"}
    )
    assert response.status_code == 400
    assert sorted(response.json()) == ["closed_after", "format", "period", "region"]
