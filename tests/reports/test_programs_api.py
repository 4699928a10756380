"""reports/program-effectiveness/ and reports/flag-coverage/ (docs/api.md):
the JSON shapes with hand-computed figures, ``?format=csv``, 400s naming the
field, 401, the schema, and a query count that does not depend on the
number of records. The figures are checked on larger datasets in
tests/reports/test_programs.py and test_flag_coverage.py.

Program dataset: step "Adoption rescue — 1. Exec sponsor call", tasks due on
20 Jan 2026, records closed on 10 Feb 2026 at noon UTC. On time: 5 records,
all saved, 10, 11, 12, 13 and 14 days open → p = 1, save rate 1.0000; Wilson
(z = 1.96, n = 5, z²/n = 0.76832): centre = (1 + 0.38416) / 1.76832 =
0.782754, half = 1.96 · √(0 + 0.038416) / 1.76832 = 0.217246 → low 0.5655,
high 1.0000; median 12.0. Not on time: 1 churned record (20 days), "Fewer
than 5 records". No review action items: no review row.

Coverage dataset: churns on 31 Mar 2026. Alder (EMEA, enterprise, 1000.00)
with a record opened 100 days before (flagged); Birch (EMEA, enterprise,
500.50) without a record. EMEA and enterprise: 2 churns, 1 flagged, 0.5,
1500.50 and 1000.00.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from risks.models import RiskStatus, RootCause
from tests import factories
from tests.csv_text import csv_text

pytestmark = pytest.mark.django_db

PROGRAMS = "/api/v1/reports/program-effectiveness/"
COVERAGE = "/api/v1/reports/flag-coverage/"
UTC = dt.UTC
DUE = dt.date(2026, 1, 20)
CLOSED_AT = dt.datetime(2026, 2, 10, 12, tzinfo=UTC)
CHURN_DAY = dt.date(2026, 3, 31)


@pytest.fixture
def api(reviewer) -> APIClient:
    client = APIClient()
    client.force_authenticate(reviewer)
    return client


@pytest.fixture
def step(region):
    playbook = factories.PlaybookFactory(name="Adoption rescue")
    return factories.PlaybookStepFactory(playbook=playbook, position=1, title="Exec sponsor call")


def closed(region, status: str, days_open: int, step, done_at) -> None:
    account = factories.AccountFactory(region=region)
    record = factories.RiskRecordFactory(
        account=account,
        primary_cause=RootCause.objects.get(code="low-usage"),
        status=status,
        arr_retained=account.arr if status == RiskStatus.SAVED else Decimal("0"),
        opened_at=CLOSED_AT - dt.timedelta(days=days_open),
        closed_at=CLOSED_AT,
        closed_by=account.csm,
    )
    factories.TaskFactory(risk=record, step=step, due_date=DUE, done_at=done_at)


@pytest.fixture
def programs_data(region, step) -> None:
    on_time = dt.datetime(2026, 1, 19, 9, tzinfo=UTC)
    for days_open in (10, 11, 12, 13, 14):
        closed(region, RiskStatus.SAVED, days_open, step, on_time)
    closed(region, RiskStatus.CHURNED, 20, step, None)


@pytest.fixture
def coverage_data(region) -> dict[str, object]:
    alder = factories.AccountFactory(name="Alder", region=region)
    birch = factories.AccountFactory(name="Birch", region=region)
    opened_at = dt.datetime(2025, 12, 21, 12, tzinfo=UTC)  # 100 days before the churn
    factories.RiskRecordFactory(
        account=alder,
        status=RiskStatus.CHURNED,
        arr_retained=Decimal("0"),
        opened_at=opened_at,
        closed_at=opened_at + dt.timedelta(days=30),
        closed_by=alder.csm,
    )
    for account, arr in ((alder, "1000.00"), (birch, "500.50")):
        factories.RenewalFactory(
            account=account, renewal_date=CHURN_DAY, outcome="churned", arr_before=Decimal(arr)
        )
    return {"alder": alder, "birch": birch}


# --- Program effectiveness ---------------------------------------------------------------


def test_program_effectiveness_json_has_the_documented_shape(api, programs_data, step):
    response = api.get(PROGRAMS)

    assert response.status_code == 200
    assert response.json() == {
        "rows": [
            {
                "kind": "playbook_step",
                "step_id": step.pk,
                "label": "Adoption rescue — 1. Exec sponsor call",
                "on_time": {
                    "records": 5,
                    "saved": 5,
                    "save_rate": 1.0,
                    "save_rate_low": 0.5655,
                    "save_rate_high": 1.0,
                    "median_days_to_close": 12.0,
                    "note": None,
                },
                "not_on_time": {
                    "records": 1,
                    "saved": 0,
                    "save_rate": None,
                    "save_rate_low": None,
                    "save_rate_high": None,
                    "median_days_to_close": 20.0,
                    "note": "Fewer than 5 records",
                },
            }
        ]
    }


def test_program_effectiveness_csv(api, programs_data, step):
    response = api.get(PROGRAMS, {"format": "csv", "region": "EMEA"})

    assert response.status_code == 200
    assert response["Content-Disposition"] == ('attachment; filename="program-effectiveness.csv"')
    lines = csv_text(response.content).splitlines()
    assert lines[0].startswith("kind,step_id,label,on_time_records,on_time_saved,")
    assert lines[1:] == [
        f"playbook_step,{step.pk},Adoption rescue — 1. Exec sponsor call,"
        "5,5,1.0000,0.5655,1.0000,12.0,1,0,,,,20.0"
    ]


def test_program_effectiveness_filters(api, programs_data, other_region):
    assert api.get(PROGRAMS, {"region": "NA"}).json() == {"rows": []}
    assert api.get(PROGRAMS, {"closed_after": "2026-02-11"}).json() == {"rows": []}
    assert len(api.get(PROGRAMS, {"closed_before": "2026-02-10"}).json()["rows"]) == 1


# --- Flag coverage -----------------------------------------------------------------------


def test_flag_coverage_json_has_the_documented_shape(api, coverage_data):
    response = api.get(COVERAGE)

    assert response.status_code == 200
    row = {
        "churns": 2,
        "flagged": 1,
        "coverage": 0.5,
        "arr_churned": "1500.50",
        "arr_flagged": "1000.00",
    }
    birch = coverage_data["birch"]
    assert response.json() == {
        "by_region": [{"key": "EMEA", "label": "Europe", **row}],
        "by_segment": [{"key": "enterprise", "label": "Enterprise", **row}],
        "totals": {"key": None, "label": "Total", **row},
        "unflagged": [
            {
                "renewal_id": birch.renewals.get().pk,
                "account": {"id": birch.pk, "name": "Birch"},
                "region": "EMEA",
                "segment": "enterprise",
                "churn_date": "2026-03-31",
                "arr_before": "500.50",
                "newest_risk": None,
            }
        ],
    }


def test_flag_coverage_names_the_newest_record_before_an_unflagged_churn(api, region):
    account = factories.AccountFactory(name="Cedar", region=region)
    opened_at = dt.datetime(2026, 3, 20, 12, tzinfo=UTC)  # 11 days before: too late
    record = factories.RiskRecordFactory(account=account, opened_at=opened_at)
    factories.RenewalFactory(account=account, renewal_date=CHURN_DAY, outcome="churned")

    (churn,) = api.get(COVERAGE).json()["unflagged"]

    assert churn["newest_risk"] == {"id": record.pk, "opened_on": "2026-03-20"}


def test_flag_coverage_csv(api, coverage_data):
    response = api.get(COVERAGE, {"format": "csv"})

    assert response["Content-Disposition"] == 'attachment; filename="flag-coverage.csv"'
    assert csv_text(response.content).splitlines() == [
        "dimension,key,label,churns,flagged,coverage,arr_churned,arr_flagged",
        "region,EMEA,Europe,2,1,0.5000,1500.50,1000.00",
        "segment,enterprise,Enterprise,2,1,0.5000,1500.50,1000.00",
        "total,,Total,2,1,0.5000,1500.50,1000.00",
    ]


def test_flag_coverage_filters(api, coverage_data, other_region):
    assert api.get(COVERAGE, {"region": "NA"}).json()["totals"]["churns"] == 0
    assert api.get(COVERAGE, {"segment": "smb"}).json()["totals"]["churns"] == 0
    assert api.get(COVERAGE, {"renewed_before": "2026-03-30"}).json()["totals"]["churns"] == 0
    in_period = {"renewed_after": "2026-03-31", "renewed_before": "2026-03-31"}
    assert api.get(COVERAGE, in_period).json()["totals"]["churns"] == 2


# --- errors, access, schema, queries -----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "query", "field", "message"),
    [
        (PROGRAMS, {"closed_after": "1/2/2026"}, "closed_after", "Enter a date as YYYY-MM-DD."),
        (
            PROGRAMS,
            {"closed_after": "2026-02-01", "closed_before": "2026-01-01"},
            "closed_before",
            "closed_before must be on or after closed_after.",
        ),
        (PROGRAMS, {"region": "MARS"}, "region", "Unknown region 'MARS'; use one of: EMEA."),
        (PROGRAMS, {"format": "xml"}, "format", "Unknown format 'xml'; use one of: json, csv."),
        (COVERAGE, {"renewed_after": "2026-13-01"}, "renewed_after", "Enter a date as YYYY-MM-DD."),
        (
            COVERAGE,
            {"renewed_after": "2026-02-01", "renewed_before": "2026-01-01"},
            "renewed_before",
            "renewed_before must be on or after renewed_after.",
        ),
        (
            COVERAGE,
            {"format": "csv", "segment": "tiny"},
            "segment",
            "Unknown segment 'tiny'; use one of: enterprise, mid-market, smb, strategic.",
        ),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(api, region, url, query, field, message):
    response = api.get(url, query)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {field: [message]}


def test_every_bad_parameter_is_reported_at_once(api, region):
    response = api.get(
        COVERAGE, {"format": "pdf", "renewed_after": "x", "renewed_before": "y", "region": "MARS"}
    )

    assert response.status_code == 400
    assert sorted(response.json()) == ["format", "region", "renewed_after", "renewed_before"]


@pytest.mark.parametrize("url", [PROGRAMS, COVERAGE])
@pytest.mark.parametrize("query", [{}, {"format": "csv"}])
def test_anonymous_requests_are_401(url, query):
    response = APIClient().get(url, query)

    assert response.status_code == 401


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer", "admin_user"])
@pytest.mark.parametrize("url", [PROGRAMS, COVERAGE])
def test_every_role_reads_both_reports(request, programs_data, coverage_data, role, url):
    client = APIClient()
    client.force_authenticate(request.getfixturevalue(role))

    assert client.get(url).status_code == 200


def test_the_schema_documents_both_reports():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    for path, parameters, rows in (
        (PROGRAMS, {"closed_after", "closed_before", "region", "segment", "format"}, "rows"),
        (COVERAGE, {"renewed_after", "renewed_before", "region", "segment", "format"}, "unflagged"),
    ):
        operation = schema["paths"][path]["get"]
        assert {parameter["name"] for parameter in operation["parameters"]} == parameters
        assert set(operation["responses"]) == {"200", "400", "401"}
        assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
        reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        component = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
        assert rows in component["properties"]


def _counts(api) -> list[int]:
    counts = []
    for url, query in (
        (PROGRAMS, {}),
        (PROGRAMS, {"region": "EMEA", "format": "csv"}),
        (COVERAGE, {}),
        (COVERAGE, {"segment": "enterprise", "format": "csv"}),
    ):
        with CaptureQueriesContext(connection) as captured:
            assert api.get(url, query).status_code == 200
        counts.append(len(captured))
    return counts


def test_query_count_is_the_same_for_few_and_many_records(api, region, step):
    def add(count: int) -> None:
        for index in range(count):
            closed(region, RiskStatus.SAVED, 3 + index, step, None)
            factories.RenewalFactory(
                account=factories.AccountFactory(region=region),
                renewal_date=CHURN_DAY - dt.timedelta(days=index),
                outcome="churned",
            )

    add(3)
    few = _counts(api)
    add(30)
    many = _counts(api)

    assert few == many
    # Program effectiveness: steps and review (+ the region check); Flag
    # coverage: regions, segments, unflagged (+ the segment check).
    assert few == [2, 3, 3, 4]
