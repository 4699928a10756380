"""The health API (docs/api.md, "Health"): measures and scorecard lines
(admins write, through health.services), observations, stored scores, an
account's health as of a day, and computing scores now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Segment
from health.models import HealthScore, Measure, Observation, Threshold
from risks.models import RootCause
from tests import factories

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()
SEEDED_MEASURES = 12


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def codes(response) -> list[str]:
    return [row["code"] for row in response.json()["results"]]


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def stored_score(account, as_of: dt.date, score: int | None = 55, band: str = "yellow", **extra):
    values = {
        "coverage": Decimal("0.8000"),
        "fit": None,
        "current_state": score,
        "interest": None,
        "parts": {},
        "computed_at": timezone.now(),
    }
    values.update(extra)
    return HealthScore.objects.create(
        account=account, as_of=as_of, score=score, band=band, **values
    )


NEW_MEASURE = {
    "code": "seats-used",
    "name": "Seats used",
    "dimension": "current_state",
    "kind": "number",
    "better": "higher",
}


# --- who may do what: every endpoint and method, per role ---------------------------------


@pytest.fixture
def world(account):
    """One of each object the table acts on."""
    measure = factories.MeasureFactory(code="table-measure")
    line = factories.ThresholdFactory(measure=measure, red=Decimal("10"), green=Decimal("50"))
    spare = factories.MeasureFactory(code="table-spare")
    factories.ThresholdFactory(measure=spare)
    factories.ObservationFactory(account=account, measure=measure, value=Decimal("20"))
    score = stored_score(account, TODAY - dt.timedelta(days=1))
    return {"measure": measure, "line": line, "spare": spare, "account": account, "score": score}


def _unused_measure(world: dict) -> Measure:
    return factories.MeasureFactory(code=f"to-delete-{Measure.objects.count()}")


# (name, method, path, body, status when allowed, admins only?)
Endpoint = tuple[str, str, Callable[[dict], str], Callable[[dict], Any], int, bool]
ENDPOINTS: list[Endpoint] = [
    ("measures list", "get", lambda w: "/api/v1/measures/", lambda w: None, 200, False),
    (
        "measure",
        "get",
        lambda w: f"/api/v1/measures/{w['measure'].pk}/",
        lambda w: None,
        200,
        False,
    ),
    ("measure create", "post", lambda w: "/api/v1/measures/", lambda w: NEW_MEASURE, 201, True),
    (
        "measure replace",
        "put",
        lambda w: f"/api/v1/measures/{w['measure'].pk}/",
        lambda w: {**NEW_MEASURE, "code": "table-measure"},
        200,
        True,
    ),
    (
        "measure change",
        "patch",
        lambda w: f"/api/v1/measures/{w['measure'].pk}/",
        lambda w: {"name": "Renamed"},
        200,
        True,
    ),
    (
        "measure delete",
        "delete",
        lambda w: f"/api/v1/measures/{_unused_measure(w).pk}/",
        lambda w: None,
        204,
        True,
    ),
    ("thresholds list", "get", lambda w: "/api/v1/thresholds/", lambda w: None, 200, False),
    (
        "threshold",
        "get",
        lambda w: f"/api/v1/thresholds/{w['line'].pk}/",
        lambda w: None,
        200,
        False,
    ),
    (
        "threshold create",
        "post",
        lambda w: "/api/v1/thresholds/",
        lambda w: {
            "measure": "table-measure",
            "segment": "smb",
            "red": 5,
            "green": 20,
            "weight": 5,
        },
        201,
        True,
    ),
    (
        "threshold replace",
        "put",
        lambda w: f"/api/v1/thresholds/{w['line'].pk}/",
        lambda w: {"measure": "table-measure", "segment": None, "red": 1, "green": 2, "weight": 3},
        200,
        True,
    ),
    (
        "threshold change",
        "patch",
        lambda w: f"/api/v1/thresholds/{w['line'].pk}/",
        lambda w: {"weight": 30},
        200,
        True,
    ),
    (
        "threshold delete",
        "delete",
        lambda w: f"/api/v1/thresholds/{w['line'].pk}/",
        lambda w: None,
        204,
        True,
    ),
    ("observations list", "get", lambda w: "/api/v1/observations/", lambda w: None, 200, False),
    (
        "observations upload",
        "post",
        lambda w: "/api/v1/observations/",
        lambda w: [
            {
                "account": w["account"].pk,
                "measure": "table-measure",
                "observed_on": TODAY.isoformat(),
                "value": 12,
            }
        ],
        200,
        True,
    ),
    (
        "account health",
        "get",
        lambda w: f"/api/v1/accounts/{w['account'].pk}/health/",
        lambda w: None,
        200,
        False,
    ),
    ("health scores list", "get", lambda w: "/api/v1/health-scores/", lambda w: None, 200, False),
    (
        "health score",
        "get",
        lambda w: f"/api/v1/health-scores/{w['score'].pk}/",
        lambda w: None,
        200,
        False,
    ),
    (
        "compute scores",
        "post",
        lambda w: "/api/v1/health-scores/compute/",
        lambda w: {},
        202,
        True,
    ),
]
ROLES = ["anonymous", "csm", "manager", "reviewer", "admin_user"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "path", "body", "allowed", "admins_only"),
    ENDPOINTS,
    ids=[endpoint[0] for endpoint in ENDPOINTS],
)
def test_permission_table(request, world, role, name, method, path, body, allowed, admins_only):
    user = None if role == "anonymous" else request.getfixturevalue(role)
    payload = body(world)
    response = getattr(client_for(user), method)(
        path(world), payload, format="json" if payload is not None else None
    )

    if user is None:
        expected = 401
    elif admins_only and role != "admin_user":
        expected = 403
    else:
        expected = allowed
    assert response.status_code == expected, response.content


def test_refused_writes_change_nothing(csm, manager, reviewer, world):
    for user in (csm, manager, reviewer):
        client = client_for(user)
        client.patch(f"/api/v1/measures/{world['measure'].pk}/", {"name": "X"})
        client.delete(f"/api/v1/thresholds/{world['line'].pk}/")
        client.post("/api/v1/health-scores/compute/", {})
    assert Measure.objects.get(pk=world["measure"].pk).name != "X"
    assert Threshold.objects.filter(pk=world["line"].pk).exists()
    assert not HealthScore.objects.filter(as_of=TODAY).exists()


def test_a_csm_reads_the_observations_and_scores_of_any_account(csm, other_csm):
    # Everyone signed in reads every account, so every account's health too.
    theirs = factories.AccountFactory(csm=other_csm)
    factories.ObservationFactory(account=theirs, measure=Measure.objects.get(code="nps"))
    stored_score(theirs, TODAY)
    client = client_for(csm)

    assert client.get("/api/v1/observations/").json()["count"] == 1
    assert client.get("/api/v1/health-scores/").json()["count"] == 1
    assert client.get(f"/api/v1/accounts/{theirs.pk}/health/").json()["score"] == 55


# --- measures -------------------------------------------------------------------------------


def test_measure_is_represented_with_its_cause_by_code(reviewer):
    nps = Measure.objects.get(code="nps")
    response = client_for(reviewer).get(f"/api/v1/measures/{nps.pk}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": nps.pk,
        "code": "nps",
        "name": "NPS",
        "description": nps.description,
        "unit": "score",
        "dimension": "interest",
        "kind": "number",
        "better": "higher",
        "scoring": "value",
        "baseline_days": 90,
        "stale_after_days": 120,
        "suggested_cause": "value-not-realised",
        "active": True,
    }


def test_admin_adds_a_number_measure_and_an_event(admin_user):
    client = client_for(admin_user)
    number = client.post(
        "/api/v1/measures/", {**NEW_MEASURE, "suggested_cause": "low-usage", "unit": "seats"}
    )
    event = client.post(
        "/api/v1/measures/",
        {"code": "exec-churned", "name": "Exec churned", "dimension": "interest", "kind": "event"},
    )

    assert number.status_code == 201, number.content
    assert number.json()["suggested_cause"] == "low-usage"
    assert number.json()["baseline_days"] == 90
    assert event.status_code == 201, event.content
    assert event.json()["better"] == ""
    assert Measure.objects.get(code="seats-used").suggested_cause.code == "low-usage"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"better": ""}, "better"),  # a number needs a direction
        ({"kind": "event", "better": "higher"}, "better"),  # an event has none
        ({"kind": "event", "better": "", "scoring": "change"}, "scoring"),
        ({"code": "not a slug"}, "code"),
        ({"code": ""}, "code"),
        ({"code": "nps"}, "code"),  # taken
        ({"name": ""}, "name"),
        ({"dimension": "mood"}, "dimension"),
        ({"baseline_days": 0}, "baseline_days"),
        ({"suggested_cause": "no-such-cause"}, "suggested_cause"),
    ],
)
def test_invalid_measure_is_400_on_the_field(admin_user, overrides, field):
    response = client_for(admin_user).post("/api/v1/measures/", {**NEW_MEASURE, **overrides})

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert Measure.objects.count() == SEEDED_MEASURES


def test_an_inactive_cause_cannot_be_suggested_but_stays_where_it_is(admin_user):
    nps = Measure.objects.get(code="nps")
    RootCause.objects.filter(code__in=["defects", "value-not-realised"]).update(active=False)
    client = client_for(admin_user)

    refused = client.patch(f"/api/v1/measures/{nps.pk}/", {"suggested_cause": "defects"})
    kept = client.patch(f"/api/v1/measures/{nps.pk}/", {"name": "Net promoter score"})

    assert refused.status_code == 400
    assert "inactive" in refused.json()["suggested_cause"][0]
    assert kept.status_code == 200
    assert kept.json()["suggested_cause"] == "value-not-realised"


def test_turning_a_measure_round_is_refused_while_its_lines_point_the_other_way(admin_user):
    logins = Measure.objects.get(code="logins-30d")

    response = client_for(admin_user).patch(f"/api/v1/measures/{logins.pk}/", {"better": "lower"})

    assert response.status_code == 400
    message = response.json()["better"][0]
    assert "default" in message and "Strategic" in message and "SMB" in message
    logins.refresh_from_db()
    assert logins.better == "higher"


def test_a_measure_with_observations_is_never_deleted(admin_user, account):
    nps = Measure.objects.get(code="nps")
    factories.ObservationFactory(account=account, measure=nps)

    response = client_for(admin_user).delete(f"/api/v1/measures/{nps.pk}/")

    assert response.status_code == 409
    assert "deactivate" in response.json()["detail"]
    assert Measure.objects.filter(pk=nps.pk).exists()


def test_deleting_an_unused_measure_takes_its_lines_with_it(admin_user):
    measure = factories.MeasureFactory(code="short-lived")
    factories.ThresholdFactory(measure=measure)

    assert client_for(admin_user).delete(f"/api/v1/measures/{measure.pk}/").status_code == 204
    assert not Threshold.objects.filter(measure_id=measure.pk).exists()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"dimension": "fit"}, ["company-size"]),
        ({"kind": "event"}, ["sponsor-left"]),
        ({"search": "ticket"}, ["oldest-ticket-age", "open-tickets"]),
        ({"active": "false"}, []),
    ],
)
def test_measure_filters(csm, params, expected):
    assert codes(client_for(csm).get("/api/v1/measures/", params)) == expected


def test_measure_list_is_ordered_by_code(csm):
    listed = codes(client_for(csm).get("/api/v1/measures/"))
    assert listed == sorted(listed)
    assert len(listed) == SEEDED_MEASURES


# --- scorecard lines --------------------------------------------------------------------


def line_body(**overrides: Any) -> dict[str, Any]:
    return {
        "measure": "nps",
        "segment": "smb",
        "red": "-10",
        "green": "30",
        "weight": 8,
        **overrides,
    }


def test_admin_adds_a_segment_line(admin_user):
    response = client_for(admin_user).post("/api/v1/thresholds/", line_body())

    assert response.status_code == 201, response.content
    assert response.json() == {
        "id": response.json()["id"],
        "measure": "nps",
        "segment": "smb",
        "red": "-10.0000",
        "green": "30.0000",
        "weight": 8,
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"segment": "strategic", "measure": "logins-30d"}, "segment"),  # has a line there
        ({"segment": None}, "segment"),  # nps has a default line
        ({"red": "30", "green": "-10"}, "green"),  # higher is better: red < green
        ({"red": "30", "green": "30"}, "green"),
        ({"measure": "open-tickets", "red": "2", "green": "10"}, "green"),  # lower is better
        ({"weight": 101}, "weight"),
        ({"weight": -1}, "weight"),
        ({"measure": "no-such-measure"}, "measure"),
        ({"segment": "no-such-segment"}, "segment"),
        ({"red": "1.23456"}, "red"),
        ({"red": "abc"}, "red"),
    ],
)
def test_invalid_line_is_400_on_the_field(admin_user, overrides, field):
    before = Threshold.objects.count()

    response = client_for(admin_user).post("/api/v1/thresholds/", line_body(**overrides))

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert Threshold.objects.count() == before


def test_taken_line_message_says_which_line(admin_user):
    response = client_for(admin_user).post("/api/v1/thresholds/", line_body(segment=None))
    assert response.json() == {
        "segment": ["This measure has a default line already; change that one."]
    }


def test_an_events_line_takes_any_red_and_green(admin_user):
    response = client_for(admin_user).post(
        "/api/v1/thresholds/", line_body(measure="sponsor-left", red="0", green="0")
    )
    assert response.status_code == 201, response.content


def test_a_change_that_turns_a_line_round_is_refused(admin_user):
    line = Threshold.objects.get(measure__code="logins-30d", segment=None)  # 20 → 100

    response = client_for(admin_user).patch(f"/api/v1/thresholds/{line.pk}/", {"red": "150"})

    assert response.status_code == 400
    assert list(response.json()) == ["green"]
    line.refresh_from_db()
    assert line.red == Decimal("20")


def test_admin_changes_a_lines_weight(admin_user):
    line = Threshold.objects.get(measure__code="nps", segment=None)

    response = client_for(admin_user).patch(f"/api/v1/thresholds/{line.pk}/", {"weight": 0})

    assert response.status_code == 200
    line.refresh_from_db()
    assert line.weight == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"measure": "logins-30d"},
            [("logins-30d", None), ("logins-30d", "smb"), ("logins-30d", "strategic")],
        ),
        ({"segment": "enterprise"}, [("open-tickets", "enterprise")]),
        (
            {"default": "false", "measure": "open-tickets"},
            [("open-tickets", "enterprise"), ("open-tickets", "strategic")],
        ),
        ({"default": "true", "measure": "nps"}, [("nps", None)]),
    ],
)
def test_threshold_filters(csm, params, expected):
    rows = client_for(csm).get("/api/v1/thresholds/", params).json()["results"]
    assert {(row["measure"], row["segment"]) for row in rows} == set(expected)


@pytest.mark.parametrize("params", [{"segment": "nope"}, {"default": "perhaps"}, {"measure": "x"}])
def test_invalid_threshold_filters_are_400(csm, params):
    response = client_for(csm).get("/api/v1/thresholds/", params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


# --- observations -------------------------------------------------------------------------


@pytest.fixture
def observed(account, other_csm):
    """Three observations on two accounts and two measures."""
    theirs = factories.AccountFactory(csm=other_csm)
    nps, csat = Measure.objects.get(code="nps"), Measure.objects.get(code="csat")
    day = dt.date(2026, 3, 1)
    return {
        "mine_nps": factories.ObservationFactory(
            account=account, measure=nps, observed_on=day, value=Decimal("30")
        ),
        "mine_csat": factories.ObservationFactory(
            account=account, measure=csat, observed_on=day + dt.timedelta(days=10)
        ),
        "theirs_nps": factories.ObservationFactory(
            account=theirs, measure=nps, observed_on=day + dt.timedelta(days=20)
        ),
    }


def test_observation_is_represented_with_its_measure_code(csm, observed):
    row = observed["mine_nps"]
    response = client_for(csm).get(
        "/api/v1/observations/", {"measure": "nps", "account": row.account_id}
    )

    assert response.json()["results"] == [
        {
            "id": row.pk,
            "account": row.account_id,
            "measure": "nps",
            "observed_on": "2026-03-01",
            "value": "30.0000",
            "source": "api",
            "recorded_at": response.json()["results"][0]["recorded_at"],
        }
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["theirs_nps", "mine_csat", "mine_nps"]),  # newest day first
        ({"measure": "nps"}, ["theirs_nps", "mine_nps"]),
        ({"observed_after": "2026-03-05"}, ["theirs_nps", "mine_csat"]),
        ({"observed_before": "2026-03-11"}, ["mine_csat", "mine_nps"]),
        ({"observed_after": "2026-03-11", "observed_before": "2026-03-11"}, ["mine_csat"]),
        ({"ordering": "observed_on"}, ["mine_nps", "mine_csat", "theirs_nps"]),
    ],
)
def test_observation_filters(csm, observed, params, expected):
    response = client_for(csm).get("/api/v1/observations/", params)
    assert ids(response) == [observed[name].pk for name in expected]


def test_observations_filter_by_account(csm, observed, account):
    response = client_for(csm).get("/api/v1/observations/", {"account": account.pk})
    assert set(ids(response)) == {observed["mine_nps"].pk, observed["mine_csat"].pk}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"observed_after": "2026-04-01", "observed_before": "2026-03-01"}, "observed_after"),
        ({"observed_after": "0001-01-01"}, "observed_after"),
        ({"observed_before": "soon"}, "observed_before"),
        ({"account": 999999}, "account"),
        ({"measure": "no-such"}, "measure"),
    ],
)
def test_invalid_observation_filters_are_400(csm, params, field):
    response = client_for(csm).get("/api/v1/observations/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_admin_uploads_observations_and_same_day_updates_the_value(admin_user, account):
    nps = Measure.objects.get(code="nps")
    factories.ObservationFactory(account=account, measure=nps, observed_on=TODAY, value=10)
    rows = [
        {"account": account.pk, "measure": "nps", "observed_on": TODAY.isoformat(), "value": 35},
        {
            "account_external_id": account.external_id,
            "measure": "csat",
            "observed_on": TODAY.isoformat(),
            "value": "88.5",
        },
    ]

    response = client_for(admin_user).post("/api/v1/observations/", rows, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "updated": 1}
    assert Observation.objects.get(account=account, measure=nps).value == Decimal("35")
    assert Observation.objects.get(account=account, measure__code="csat").source == "api"


def test_an_upload_with_bad_rows_writes_nothing_and_names_each_row_and_field(admin_user, account):
    rows = [
        {"account": account.pk, "measure": "nps", "observed_on": TODAY.isoformat(), "value": 35},
        {"account": account.pk, "measure": "no-such", "observed_on": TODAY.isoformat(), "value": 1},
        {"account": account.pk, "measure": "csat", "observed_on": "soon", "value": 1},
    ]

    response = client_for(admin_user).post("/api/v1/observations/", rows, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(error["row"], error["field"]) for error in errors] == [
        (1, "measure"),
        (2, "observed_on"),
    ]
    assert all(error["message"] for error in errors)
    assert not Observation.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{"account": 1}, "rows", [{"measure": "nps"}] * 10_001],
    ids=["object", "text", "too many"],
)
def test_an_upload_that_is_not_a_list_of_at_most_10000_rows_is_400(admin_user, body):
    response = client_for(admin_user).post("/api/v1/observations/", body, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["row"] is None


def test_a_lone_surrogate_in_a_cell_is_a_row_error_not_a_crash(admin_user, account):
    # Python's JSON reader accepts "\ud800", which no database can store.
    body = (
        '[{"account_external_id": "\\ud800", "measure": "nps", '
        f'"observed_on": "{TODAY.isoformat()}", "value": 1}}]'
    )
    response = client_for(admin_user).post(
        "/api/v1/observations/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [
        (0, "account_external_id")
    ]
    assert not Observation.objects.exists()


def test_an_empty_upload_writes_nothing(admin_user):
    response = client_for(admin_user).post("/api/v1/observations/", [], format="json")
    assert response.json() == {"created": 0, "updated": 0}


# --- an account's health as of a day ----------------------------------------------------------


@pytest.fixture
def history(account):
    """Scores on the 1st, 8th and 15th of March 2026."""
    return {
        day: stored_score(
            account,
            dt.date(2026, 3, day),
            score=score,
            band=band,
            fit=70,
            interest=None,
            parts={
                "nps": {
                    "value": 30.0,
                    "observed_on": "2026-02-20",
                    "change": None,
                    "score": 75.0,
                    "weight": 10,
                    "fresh": True,
                }
            },
        )
        for day, score, band in [(1, 80, "green"), (8, 50, "yellow"), (15, 30, "red")]
    }


@pytest.mark.parametrize(
    ("as_of", "expected_day"),
    [
        ("2026-03-08", 8),
        ("2026-03-10", 8),
        ("2026-03-14", 8),
        ("2026-03-15", 15),
        ("2026-12-31", 15),
        ("2026-03-01", 1),
    ],
)
def test_account_health_is_the_newest_score_on_or_before_the_day(
    reviewer, account, history, as_of, expected_day
):
    response = client_for(reviewer).get(f"/api/v1/accounts/{account.pk}/health/", {"as_of": as_of})

    assert response.status_code == 200
    assert response.json()["as_of"] == f"2026-03-{expected_day:02d}"
    assert response.json()["score"] == history[expected_day].score


def test_account_health_shows_score_band_coverage_parts_and_dimensions(csm, account, history):
    body = (
        client_for(csm)
        .get(f"/api/v1/accounts/{account.pk}/health/", {"as_of": "2026-03-09"})
        .json()
    )

    assert body == {
        "account": account.pk,
        "as_of": "2026-03-08",
        "score": 50,
        "band": "yellow",
        "coverage": "0.8000",
        "dimensions": {"fit": 70, "current_state": 50, "interest": None},
        "parts": {
            "nps": {
                "value": 30.0,
                "observed_on": "2026-02-20",
                "change": None,
                "score": 75.0,
                "weight": 10,
                "fresh": True,
            }
        },
        "computed_at": body["computed_at"],
    }


def test_scores_written_by_the_scoring_serialise_as_they_are_stored(csm, account):
    from decimal import Decimal

    from health.models import Measure
    from health.scoring import score_accounts

    Measure.objects.update(active=False)
    logins = factories.MeasureFactory(code="logins")
    factories.ThresholdFactory(measure=logins, red=Decimal(0), green=Decimal(100), weight=10)
    factories.ObservationFactory(account=account, measure=logins, value=60, observed_on=TODAY)
    score_accounts(TODAY, [account.pk])
    part = {
        "value": 60.0,
        "observed_on": TODAY.isoformat(),
        "change": None,
        "score": 60.0,
        "weight": 10,
        "fresh": True,
    }

    health = client_for(csm).get(f"/api/v1/accounts/{account.pk}/health/").json()
    listed = client_for(csm).get("/api/v1/health-scores/", {"account": account.pk}).json()

    assert (health["score"], health["parts"]) == (60, {"logins": part})
    assert listed["results"][0]["parts"] == {"logins": part}


def test_account_health_is_as_of_today_by_default(csm, account, history):
    stored_score(account, TODAY + dt.timedelta(days=1), score=99, band="green")  # not yet
    today = stored_score(account, TODAY, score=64)

    body = client_for(csm).get(f"/api/v1/accounts/{account.pk}/health/").json()

    assert (body["as_of"], body["score"]) == (TODAY.isoformat(), today.score)


def test_account_never_scored_by_the_day_answers_unknown(csm, account, history):
    body = (
        client_for(csm)
        .get(f"/api/v1/accounts/{account.pk}/health/", {"as_of": "2026-02-28"})
        .json()
    )

    assert body == {
        "account": account.pk,
        "as_of": None,
        "score": None,
        "band": "unknown",
        "coverage": None,
        "dimensions": {"fit": None, "current_state": None, "interest": None},
        "parts": {},
        "computed_at": None,
    }


def test_health_of_an_unknown_account_is_404(csm):
    response = client_for(csm).get("/api/v1/accounts/999999/health/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such account."}


@pytest.mark.parametrize("as_of", ["yesterday", "2026-02-30", "0001-01-01"])
def test_account_health_with_a_bad_day_is_400(csm, account, as_of):
    response = client_for(csm).get(f"/api/v1/accounts/{account.pk}/health/", {"as_of": as_of})
    assert response.status_code == 400
    assert "as_of" in response.json()


def test_account_health_does_not_shadow_the_account_routes(csm, account):
    assert client_for(csm).get(f"/api/v1/accounts/{account.pk}/").json()["id"] == account.pk


# --- stored scores ------------------------------------------------------------------------


@pytest.fixture
def scored(account, other_region):
    smb = Segment.objects.get(code="smb")
    elsewhere = factories.AccountFactory(region=other_region, segment=smb)
    march = dt.date(2026, 3, 1)
    rows = {
        "mine_old": stored_score(account, march, score=80, band="green"),
        "mine_new": stored_score(account, march + dt.timedelta(days=7), score=35, band="red"),
        "theirs": stored_score(
            elsewhere, march, score=None, band="unknown", coverage=Decimal("0.2")
        ),
    }
    # What scoring mirrors onto the accounts: the day of the newest score.
    type(account).objects.filter(pk=account.pk).update(health_as_of=march + dt.timedelta(days=7))
    type(account).objects.filter(pk=elsewhere.pk).update(health_as_of=march)
    return rows


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["mine_new", "theirs", "mine_old"]),  # newest day first, then id descending
        ({"band": "red"}, ["mine_new"]),
        ({"segment": "smb"}, ["theirs"]),
        ({"region": "EMEA"}, ["mine_new", "mine_old"]),
        ({"as_of": "2026-03-01"}, ["theirs", "mine_old"]),
        ({"latest": "true"}, ["mine_new", "theirs"]),
        ({"latest": "false"}, ["mine_old"]),
        ({"ordering": "score"}, ["mine_new", "mine_old", "theirs"]),  # no score last
    ],
)
def test_health_score_filters(csm, scored, params, expected):
    response = client_for(csm).get("/api/v1/health-scores/", params)
    assert ids(response) == [scored[name].pk for name in expected]


def test_health_scores_filter_by_account(csm, scored, account):
    response = client_for(csm).get("/api/v1/health-scores/", {"account": account.pk})
    assert set(ids(response)) == {scored["mine_old"].pk, scored["mine_new"].pk}


def test_health_score_is_represented_like_an_accounts_health(csm, scored):
    row = scored["theirs"]
    body = client_for(csm).get(f"/api/v1/health-scores/{row.pk}/").json()

    assert body == {
        "id": row.pk,
        "account": row.account_id,
        "as_of": "2026-03-01",
        "score": None,
        "band": "unknown",
        "coverage": "0.2000",
        "dimensions": {"fit": None, "current_state": None, "interest": None},
        "parts": {},
        "computed_at": body["computed_at"],
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"band": "purple"}, "band"),
        ({"segment": "nope"}, "segment"),
        ({"region": "nope"}, "region"),
        ({"as_of": "2026-13-01"}, "as_of"),
        ({"latest": "maybe"}, "latest"),
    ],
)
def test_invalid_health_score_filters_are_400(csm, params, field):
    response = client_for(csm).get("/api/v1/health-scores/", params)
    assert response.status_code == 400
    assert field in response.json()


# --- computing scores now ------------------------------------------------------------------


def test_admin_computes_scores_now_and_gets_the_finished_job(admin_user, account):
    factories.ObservationFactory(
        account=account, measure=Measure.objects.get(code="nps"), observed_on=TODAY, value=40
    )

    response = client_for(admin_user).post("/api/v1/health-scores/compute/", {})

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "done"  # tasks run in-process in the tests
    assert body["as_of"] == TODAY.isoformat()
    assert body["task_id"]
    assert HealthScore.objects.filter(account=account, as_of=TODAY).exists()
    account.refresh_from_db()
    assert account.health_as_of == TODAY


def test_admin_computes_scores_of_an_earlier_day(admin_user, account):
    day = TODAY - dt.timedelta(days=10)

    response = client_for(admin_user).post(
        "/api/v1/health-scores/compute/", {"as_of": day.isoformat()}
    )

    assert response.status_code == 202
    assert response.json()["as_of"] == day.isoformat()
    assert HealthScore.objects.filter(account=account, as_of=day).exists()


@pytest.mark.parametrize(
    "as_of", [(TODAY + dt.timedelta(days=1)).isoformat(), "not-a-day", "0001-01-01"]
)
def test_computing_scores_of_a_later_or_bad_day_is_400(admin_user, account, as_of):
    response = client_for(admin_user).post("/api/v1/health-scores/compute/", {"as_of": as_of})

    assert response.status_code == 400
    assert "as_of" in response.json()
    assert not HealthScore.objects.exists()


# --- query counts -----------------------------------------------------------------------------


@pytest.fixture
def many_rows():
    """110 of everything, each on its own account, measure and cause, so a
    query per row for any related object would show."""
    causes = RootCause.objects.all()
    for n in range(110):
        account = factories.AccountFactory(region=factories.RegionFactory(code=f"Q{n}"))
        measure = factories.MeasureFactory(code=f"many-{n}", suggested_cause=causes[n % 10])
        factories.ThresholdFactory(measure=measure)
        factories.ObservationFactory(account=account, measure=measure, value=n)
        stored_score(account, TODAY - dt.timedelta(days=n % 3))


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        # count, page
        ("/api/v1/measures/", {}, 2),
        ("/api/v1/thresholds/", {}, 2),
        ("/api/v1/observations/", {}, 2),
        ("/api/v1/health-scores/", {}, 2),
        # the filter's segment or region, count, page
        ("/api/v1/thresholds/", {"segment": "smb"}, 3),
        ("/api/v1/health-scores/", {"region": "Q1", "band": "yellow"}, 3),
        ("/api/v1/observations/", {"measure": "many-1", "observed_after": "2020-01-01"}, 3),
    ],
)
def test_lists_cost_the_same_queries_for_10_and_100_rows(
    csm, many_rows, django_assert_num_queries, path, params, expected
):
    client = client_for(csm)
    with django_assert_num_queries(expected):
        small = client.get(path, {**params, "page_size": 10})
    with django_assert_num_queries(expected):
        large = client.get(path, {**params, "page_size": 100})

    assert small.status_code == large.status_code == 200
    if not params:
        assert len(small.json()["results"]) == 10
        assert len(large.json()["results"]) == 100


def test_account_health_costs_one_query_when_scored(csm, account, django_assert_num_queries):
    stored_score(account, TODAY)
    with django_assert_num_queries(1):
        assert client_for(csm).get(f"/api/v1/accounts/{account.pk}/health/").status_code == 200
