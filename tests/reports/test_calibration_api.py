"""reports/health-calibration/ (docs/api.md): the JSON shape with the
hand-computed figures of tests/reports/calibration_data.py, ``?format=csv``,
400s naming the parameter, 401, and a query count that does not depend on
the number of renewals."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.csv_text import csv_text
from tests.reports import calibration_data
from tests.reports.test_calibration import _renewals

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/health-calibration/"


@pytest.fixture
def dataset(csm, region, other_region):
    return calibration_data.build(csm, region, other_region)


@pytest.fixture
def api(reviewer) -> APIClient:
    client = APIClient()
    client.force_authenticate(reviewer)
    return client


def band(key: str | None, label: str, renewals: int, churned: int, rate, arr: str) -> dict:
    return {
        "band": key,
        "label": label,
        "renewals": renewals,
        "churned": churned,
        "churn_rate": rate,
        "arr_churned": arr,
    }


def decile(bucket: int, label: str, renewals: int = 0, churned: int = 0, rate=None) -> dict:
    return {
        "bucket": bucket,
        "label": label,
        "renewals": renewals,
        "churned": churned,
        "churn_rate": rate,
    }


def test_json_has_the_documented_shape(api, dataset):
    # NA only: 8 (75 green, churned 8,000; parts logins 60, nps 80, retired
    # 10), 9 (30 red; logins 20, retired 50), 10 (100 green, no parts).
    response = api.get(URL, {"region": "NA"})

    assert response.status_code == 200
    assert response.json() == {
        "days_before": 90,
        "bands": [
            band("green", "Green", 2, 1, 0.5, "8000.00"),
            band("yellow", "Yellow", 0, 0, None, "0.00"),
            band("red", "Red", 1, 0, 0.0, "0.00"),
            band("unknown", "Unknown", 0, 0, None, "0.00"),
            band("none", "No score", 0, 0, None, "0.00"),
        ],
        "totals": band(None, "Total", 3, 1, 0.3333, "8000.00"),
        # 75 against 30 and 100: one pair of two.
        "auc": 0.5,
        "n_churned": 1,
        "n_renewed": 2,
        "deciles": [
            decile(0, "0\u20139"),
            decile(1, "10\u201319"),
            decile(2, "20\u201329"),
            decile(3, "30\u201339", 1, 0, 0.0),
            decile(4, "40\u201349"),
            decile(5, "50\u201359"),
            decile(6, "60\u201369"),
            decile(7, "70\u201379", 1, 1, 1.0),
            decile(8, "80\u201389"),
            decile(9, "90\u2013100", 1, 0, 0.0),
        ],
        "measures": [
            {
                "code": "logins-30d",
                "name": "Logins in the last 30 days",
                "renewals_low": 1,
                "churned_low": 0,
                "churn_rate_low": 0.0,
                "renewals_not_low": 1,
                "churned_not_low": 1,
                "churn_rate_not_low": 1.0,
                "lift": 0.0,
            },
            {
                "code": "nps",
                "name": "NPS",
                "renewals_low": 0,
                "churned_low": 0,
                "churn_rate_low": None,
                "renewals_not_low": 1,
                "churned_not_low": 1,
                "churn_rate_not_low": 1.0,
                "lift": None,
            },
            {
                "code": "retired-measure",
                "name": "retired-measure",
                "renewals_low": 1,
                "churned_low": 1,
                "churn_rate_low": 1.0,
                "renewals_not_low": 1,
                "churned_not_low": 0,
                "churn_rate_not_low": 0.0,
                "lift": None,
            },
        ],
        "green_churns": [
            {
                "renewal_id": dataset.n_green_churn.renewals.get().pk,
                "account": {"id": dataset.n_green_churn.pk, "name": "N green churn"},
                "region": "NA",
                "segment": "smb",
                "renewal_date": "2026-04-15",
                "score": 75,
                "score_as_of": "2025-12-20",
                "arr_before": "8000.00",
            }
        ],
    }


def test_rates_and_auc_are_numbers_rounded_to_four_places(api, dataset):
    body = api.get(URL).json()

    # Every renewal: AUC 11.5 / 15; 4 of 10 churned.
    assert (body["auc"], body["n_churned"], body["n_renewed"]) == (0.7667, 3, 5)
    assert body["totals"]["churn_rate"] == 0.4
    assert [row["lift"] for row in body["measures"]] == [3.0, 1.0, None]


def test_days_before_and_the_period_are_applied(api, dataset):
    body = api.get(
        URL, {"days_before": "0", "renewed_after": "2026-03-31", "renewed_before": "2026-03-31"}
    ).json()

    # EMEA only, each score read on the renewal day: 1 reads its 95 (green).
    assert body["days_before"] == 0
    assert [churn["account"]["name"] for churn in body["green_churns"]] == ["E churn 20"]
    assert body["totals"]["renewals"] == 7


def test_csv_has_the_page_download_columns(api, dataset):
    response = api.get(URL, {"format": "csv", "segment": "mid-market"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="health-calibration.csv"'
    lines = list(csv.reader(io.StringIO(csv_text(response.content))))
    assert lines[0][:6] == ["section", "key", "label", "renewals", "churned", "churn_rate"]
    # Mid-market: renewal 5 alone (90 green, renewed): no AUC.
    assert lines[1][:7] == ["band", "green", "Green", "1", "0", "0.0000", "0.00"]
    assert lines[6][:7] == ["total", "", "Total", "1", "0", "0.0000", "0.00"]
    assert lines[7] == ["auc", "", "AUC", "1", "0", *[""] * 13]
    assert [line[0] for line in lines[8:]] == ["decile"] * 10 + ["measure"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"days_before": "731"}, "days_before", "Enter a whole number of days from 0 to 730."),
        ({"days_before": "x"}, "days_before", "Enter a whole number of days from 0 to 730."),
        ({"renewed_before": "1/2/2026"}, "renewed_before", "Enter a date as YYYY-MM-DD."),
        ({"region": "MARS"}, "region", "Unknown region 'MARS'; use one of: EMEA."),
        ({"format": "xml"}, "format", "Unknown format 'xml'; use one of: json, csv."),
        (
            {"format": "csv", "days_before": "-1"},
            "days_before",
            "Enter a whole number of days from 0 to 730.",
        ),
    ],
)
def test_bad_parameters_are_a_400_naming_them(api, region, query, field, message):
    response = api.get(URL, query)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {field: [message]}


def test_every_bad_parameter_is_reported_at_once(api, region):
    response = api.get(URL, {"days_before": "1000", "renewed_after": "x", "segment": "giant"})

    assert response.status_code == 400
    assert sorted(response.json()) == ["days_before", "renewed_after", "segment"]


@pytest.mark.parametrize("query", [{}, {"format": "csv"}])
def test_anonymous_requests_are_401(query):
    response = APIClient().get(URL, query)

    assert response.status_code == 401


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer", "admin_user"])
def test_every_role_reads_it(request, dataset, role):
    client = APIClient()
    client.force_authenticate(request.getfixturevalue(role))

    assert client.get(URL).status_code == 200


def _counts(api: APIClient) -> list[int]:
    counts = []
    for query in ({}, {"region": "EMEA", "segment": "enterprise"}, {"format": "csv"}):
        with CaptureQueriesContext(connection) as captured:
            assert api.get(URL, query).status_code == 200
        counts.append(len(captured))
    return counts


def test_query_count_is_the_same_for_1_and_30_renewals(api, csm, region):
    _renewals(1, csm, region, start=0)
    with_1 = _counts(api)
    _renewals(29, csm, region, start=1)

    # The report's two statements, plus one check per region or segment code.
    assert _counts(api) == with_1 == [2, 4, 2]
