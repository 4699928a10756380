"""/api/v1/risks/ and its workflow actions (docs/api.md): the representation,
every filter, ordering and search, filing and editing, escalate, de-escalate,
close, notes and the timeline, every error status, the permission table and the
query counts of the lists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Segment
from risks import services
from risks.models import (
    Escalation,
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    TimelineEvent,
    TimelineKind,
)
from tests import factories

pytestmark = pytest.mark.django_db

RISK_FIELDS = [
    "id",
    "account",
    "account_name",
    "region",
    "primary_cause",
    "secondary_cause",
    "tier",
    "max_tier",
    "status",
    "summary",
    "next_steps",
    "arr_at_risk",
    "arr_retained",
    "opened_by",
    "opened_at",
    "tier_changed_at",
    "closed_by",
    "closed_at",
    "outcome_note",
    "version",
]
EVENT_FIELDS = ["id", "kind", "actor", "at", "text", "data"]
ESCALATION_FIELDS = [
    "id",
    "risk",
    "from_tier",
    "to_tier",
    "status",
    "reason",
    "requested_by",
    "requested_at",
    "decided_by",
    "decided_at",
    "decision_note",
]


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def url(pk: int | None = None, action: str | None = None) -> str:
    path = "/api/v1/risks/"
    if pk is not None:
        path += f"{pk}/"
    if action:
        path += f"{action}/"
    return path


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def is_iso_datetime(value: str) -> bool:
    return dt.datetime.fromisoformat(value).tzinfo is not None


@pytest.fixture
def risk(csm, account, low_usage) -> RiskRecord:
    return services.risk_open(
        user=csm,
        account=account,
        primary_cause=low_usage,
        summary="Usage fell by half.",
        next_steps="Call the sponsor.",
    )


@pytest.fixture
def tier2_risk(risk, manager) -> RiskRecord:
    services.escalation_request(user=manager, risk=risk, reason="Manager joins.")
    risk.refresh_from_db()
    return risk


# --- reading -------------------------------------------------------------------------------


def test_risk_is_represented_with_exactly_the_fields_of_the_design(csm, risk, defects):
    response = client_for(csm).get(url(risk.pk))

    assert response.status_code == 200
    body = response.json()
    assert list(body) == RISK_FIELDS
    assert body["account"] == risk.account_id
    assert body["account_name"] == risk.account.name
    assert body["region"] == "EMEA"
    assert body["primary_cause"] == "low-usage"
    assert body["secondary_cause"] is None
    assert body["tier"] == 1 and body["max_tier"] == 1
    assert body["status"] == "open"
    assert body["opened_by"] == csm.pk
    assert body["closed_by"] is None and body["closed_at"] is None
    assert body["version"] == 1


def test_money_is_a_string_with_two_decimals_and_dates_are_iso(csm, risk):
    services.risk_close(
        user=csm, risk=risk, outcome="saved", note="Renewed.", arr_retained=Decimal("100000.5")
    )

    body = client_for(csm).get(url(risk.pk)).json()

    assert body["arr_at_risk"] == "120000.00"
    assert body["arr_retained"] == "100000.50"
    for field in ("opened_at", "tier_changed_at", "closed_at"):
        assert is_iso_datetime(body[field]), field


def test_list_shows_every_status_when_none_is_asked_for(csm, risk, other_csm, low_usage):
    closed = factories.RiskRecordFactory(
        account=factories.AccountFactory(csm=other_csm),
        primary_cause=low_usage,
        status=RiskStatus.CHURNED,
        closed_at=timezone.now(),
        arr_retained=Decimal("0"),
    )

    response = client_for(csm).get(url())

    assert response.status_code == 200
    assert set(ids(response)) == {risk.pk, closed.pk}
    assert set(response.json()) == {"count", "next", "previous", "results"}


def test_unknown_risk_is_404(csm):
    response = client_for(csm).get(url(999999))
    assert response.status_code == 404
    assert "detail" in response.json()


def test_anonymous_is_asked_to_authenticate(risk):
    response = APIClient().get(url())
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_token_authenticates(csm, risk):
    _, token = AuthToken.objects.create(user=csm)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(url(risk.pk)).status_code == 200


def test_session_writes_need_the_csrf_token(csm, account, low_usage):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(csm)
    payload = {
        "account": account.pk,
        "primary_cause": "low-usage",
        "summary": "s",
        "next_steps": "n",
    }

    response = client.post(url(), payload)

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not RiskRecord.objects.exists()


# --- filters, search, ordering -----------------------------------------------------------


@pytest.fixture
def filter_world(csm, account, low_usage, defects):
    """Two records that differ in every filtered attribute: ``hit`` is what each
    case below asks for, ``miss`` is not."""
    now = timezone.now()
    north_america = factories.RegionFactory(code="NA", name="North America")
    nadia = factories.ManagerFactory(username="nadia", region=north_america)
    nina = factories.CsmFactory(username="nina", manager=nadia, region=north_america)
    hit_account = factories.AccountFactory(
        name="Acme Widgets",
        external_id="CRM-ACME",
        region=north_america,
        segment=Segment.objects.get(code="smb"),
        csm=nina,
        renewal_date=timezone.localdate() + dt.timedelta(days=10),
    )
    hit = factories.RiskRecordFactory(
        account=hit_account,
        primary_cause=defects,
        secondary_cause=low_usage,
        tier=3,
        max_tier=3,
        status=RiskStatus.SAVED,
        opened_at=now - dt.timedelta(days=100),
        closed_at=now - dt.timedelta(days=20),
        arr_retained=Decimal("1000.00"),
    )
    account.name = "Beta Logistics"
    account.renewal_date = timezone.localdate() + dt.timedelta(days=200)
    account.save()
    miss = factories.RiskRecordFactory(
        account=account,
        primary_cause=low_usage,
        tier=1,
        opened_at=now - dt.timedelta(days=5),
    )
    return {"hit": hit, "miss": miss, "nina": nina, "nadia": nadia, "now": now}


def _days_ago(world, days: int) -> str:
    return (world["now"] - dt.timedelta(days=days)).date().isoformat()


def _days_ahead(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


# (parameter, value from the world, which record matches)
FILTER_CASES = [
    ("status", lambda w: "saved", "hit"),
    ("status", lambda w: "closed", "hit"),
    ("status", lambda w: "open", "miss"),
    ("tier", lambda w: "3", "hit"),
    ("region", lambda w: "NA", "hit"),
    ("segment", lambda w: "smb", "hit"),
    ("primary_cause", lambda w: "defects", "hit"),
    ("secondary_cause", lambda w: "low-usage", "hit"),
    ("category", lambda w: "product", "hit"),
    ("csm", lambda w: str(w["nina"].pk), "hit"),
    ("manager", lambda w: str(w["nadia"].pk), "hit"),
    ("account", lambda w: str(w["hit"].account_id), "hit"),
    ("renewal_date_before", lambda w: _days_ahead(30), "hit"),
    ("renewal_date_after", lambda w: _days_ahead(100), "miss"),
    ("renewal_within", lambda w: "30", "hit"),
    ("opened_after", lambda w: _days_ago(w, 50), "miss"),
    ("opened_before", lambda w: _days_ago(w, 50), "hit"),
    ("closed_after", lambda w: _days_ago(w, 30), "hit"),
    ("closed_before", lambda w: _days_ago(w, 10), "hit"),
    ("search", lambda w: "acme", "hit"),
    ("search", lambda w: "crm-acme", "hit"),
]


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    FILTER_CASES,
    ids=[f"{param}-{expected}-{n}" for n, (param, _, expected) in enumerate(FILTER_CASES)],
)
def test_each_filter_selects_the_matching_records(csm, filter_world, param, value, expected):
    response = client_for(csm).get(url(), {param: value(filter_world)})

    assert response.status_code == 200, response.json()
    assert ids(response) == [filter_world[expected].pk]


def test_filters_combine(csm, filter_world):
    response = client_for(csm).get(url(), {"region": "NA", "status": "open"})
    assert ids(response) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tier": "7"}, "tier"),
        ({"status": "lost"}, "status"),
        ({"region": "MARS"}, "region"),
        ({"segment": "nope"}, "segment"),
        ({"primary_cause": "nope"}, "primary_cause"),
        ({"category": "nope"}, "category"),
        ({"csm": "999999"}, "csm"),
        ({"account": "abc"}, "account"),
        ({"opened_after": "yesterday"}, "opened_after"),
        ({"renewal_date_after": "2025-03-01", "renewal_date_before": "2025-01-01"}, None),
        ({"ordering": "summary"}, "ordering"),
    ],
)
def test_invalid_filter_values_are_400_with_the_field_errors(csm, risk, params, field):
    response = client_for(csm).get(url(), params)

    assert response.status_code == 400
    body = response.json()
    assert (field or "renewal_date_after") in body
    assert all(isinstance(messages, list) for messages in body.values())


@pytest.fixture
def ordering_world(csm, low_usage):
    """Three records whose every sort key differs, in a different order each."""
    now = timezone.now()
    rows = []
    for name, arr, tier, days_open, renews_in, closed_days_ago in [
        ("Bravo", "300.00", 2, 30, 50, None),
        ("Alpha", "100.00", 3, 10, 90, 5),
        ("Charlie", "200.00", 1, 20, 10, 2),
    ]:
        account = factories.AccountFactory(
            name=name, csm=csm, renewal_date=timezone.localdate() + dt.timedelta(days=renews_in)
        )
        closed = closed_days_ago is not None
        rows.append(
            factories.RiskRecordFactory(
                account=account,
                primary_cause=low_usage,
                arr_at_risk=Decimal(arr),
                tier=tier,
                max_tier=tier,
                opened_at=now - dt.timedelta(days=days_open),
                tier_changed_at=now - dt.timedelta(days=days_open - 1),
                status=RiskStatus.WITHDRAWN if closed else RiskStatus.OPEN,
                closed_at=now - dt.timedelta(days=closed_days_ago) if closed else None,
                arr_retained=Decimal("0") if closed else None,
            )
        )
    return {row.account.name: row for row in rows}


@pytest.mark.parametrize(
    ("ordering", "names"),
    [
        (None, ["Alpha", "Charlie", "Bravo"]),  # newest first
        ("opened_at", ["Bravo", "Charlie", "Alpha"]),
        ("-opened_at", ["Alpha", "Charlie", "Bravo"]),
        ("tier", ["Charlie", "Bravo", "Alpha"]),
        ("-max_tier", ["Alpha", "Bravo", "Charlie"]),
        ("tier_changed_at", ["Bravo", "Charlie", "Alpha"]),
        ("arr_at_risk", ["Alpha", "Charlie", "Bravo"]),
        ("-arr_at_risk", ["Bravo", "Charlie", "Alpha"]),
        ("renewal_date", ["Charlie", "Bravo", "Alpha"]),
        ("account_name", ["Alpha", "Bravo", "Charlie"]),
        ("-account_name", ["Charlie", "Bravo", "Alpha"]),
        ("closed_at", ["Alpha", "Charlie", "Bravo"]),  # open records last
        ("-closed_at", ["Charlie", "Alpha", "Bravo"]),
        ("id", ["Bravo", "Alpha", "Charlie"]),
    ],
)
def test_ordering_by_each_key(csm, ordering_world, ordering, names):
    params = {"ordering": ordering} if ordering else {}

    response = client_for(csm).get(url(), params)

    assert response.status_code == 200
    assert ids(response) == [ordering_world[name].pk for name in names]


def test_page_size_and_pages(csm, ordering_world):
    client = client_for(csm)

    first = client.get(url(), {"page_size": 2, "ordering": "account_name"}).json()
    second = client.get(url(), {"page_size": 2, "ordering": "account_name", "page": 2}).json()

    assert first["count"] == 3 and first["next"] and first["previous"] is None
    assert [row["account_name"] for row in first["results"]] == ["Alpha", "Bravo"]
    assert [row["account_name"] for row in second["results"]] == ["Charlie"]
    assert client.get(url(), {"page": 9}).status_code == 404


# --- filing --------------------------------------------------------------------------------


def filing(target, **overrides):
    payload = {
        "account": target.pk,
        "primary_cause": "low-usage",
        "summary": "Usage fell by half.",
        "next_steps": "Call the sponsor.",
    }
    payload.update(overrides)
    return payload


def test_csm_files_a_risk_record(csm, account):
    response = client_for(csm).post(url(), filing(account, secondary_cause="defects"))

    assert response.status_code == 201
    body = response.json()
    assert list(body) == RISK_FIELDS
    risk = RiskRecord.objects.get(pk=body["id"])
    assert risk.opened_by == csm and risk.tier == 1 and risk.status == RiskStatus.OPEN
    assert body["primary_cause"] == "low-usage" and body["secondary_cause"] == "defects"
    # The ARR at risk defaults to the account's ARR.
    assert body["arr_at_risk"] == "120000.00"
    assert risk.events.get().kind == TimelineKind.OPENED


def test_filing_takes_the_arr_at_risk_given(csm, account):
    response = client_for(csm).post(url(), filing(account, arr_at_risk="5000.50"))

    assert response.status_code == 201
    assert response.json()["arr_at_risk"] == "5000.50"


def test_filing_ignores_read_only_fields(csm, account):
    response = client_for(csm).post(
        url(), filing(account, tier=3, status="saved", version=9, opened_by=999)
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["tier"], body["status"], body["version"], body["opened_by"]) == (
        1,
        "open",
        1,
        csm.pk,
    )


def test_second_open_record_on_an_account_is_409_with_the_existing_one(csm, risk, account):
    response = client_for(csm).post(url(), filing(account))

    assert response.status_code == 409
    body = response.json()
    assert body["existing"] == risk.pk
    assert "already has an open risk record" in body["detail"]
    assert RiskRecord.objects.count() == 1


INVALID_FILINGS = [
    ({"primary_cause": "no-such-cause"}, "primary_cause"),
    ({"primary_cause": ["low-usage"]}, "primary_cause"),
    ({"primary_cause": "retired"}, "primary_cause"),
    ({"secondary_cause": "retired"}, "secondary_cause"),
    ({"secondary_cause": "low-usage"}, "secondary_cause"),
    ({"secondary_cause": "no-such-cause"}, "secondary_cause"),
    ({"summary": "   "}, "summary"),
    ({"next_steps": ""}, "next_steps"),
    ({"arr_at_risk": "-1"}, "arr_at_risk"),
    ({"arr_at_risk": "1.005"}, "arr_at_risk"),
    ({"arr_at_risk": "lots"}, "arr_at_risk"),
    ({"account": 999999}, "account"),
]


def test_a_nul_in_a_cause_code_is_a_400_before_any_lookup(csm, account):
    # PostgreSQL refuses NUL in text: the parser stops it first.
    response = client_for(csm).post(url(), filing(account, primary_cause="low\x00usage"))

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert not RiskRecord.objects.exists()


@pytest.mark.parametrize(("overrides", "field"), INVALID_FILINGS)
def test_invalid_filing_is_400_on_the_field(csm, account, overrides, field):
    factories.RootCauseFactory(code="retired", active=False)

    response = client_for(csm).post(url(), filing(account, **overrides))

    assert response.status_code == 400
    assert field in response.json()
    assert not RiskRecord.objects.exists()


def test_filing_without_the_required_fields_names_each(csm):
    response = client_for(csm).post(url(), {})

    assert response.status_code == 400
    assert set(response.json()) == {"account", "primary_cause", "summary", "next_steps"}


@pytest.mark.parametrize("who", ["other_csm", "reviewer"])
def test_filing_on_someone_elses_account_is_403(request, account, who):
    response = client_for(request.getfixturevalue(who)).post(url(), filing(account))

    assert response.status_code == 403
    assert "detail" in response.json()
    assert not RiskRecord.objects.exists()


# --- editing -------------------------------------------------------------------------------


def test_patch_changes_the_fields_sent_and_bumps_the_version(csm, risk):
    response = client_for(csm).patch(
        url(risk.pk),
        {"summary": "Usage fell by two thirds.", "arr_at_risk": "90000.00", "version": 1},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == "Usage fell by two thirds."
    assert body["arr_at_risk"] == "90000.00"
    assert body["next_steps"] == "Call the sponsor."
    assert body["version"] == 2
    edited = risk.events.get(kind=TimelineKind.EDITED)
    assert set(edited.data["changed"]) == {"summary", "arr_at_risk"}


def test_patch_sets_and_clears_the_secondary_cause(csm, risk):
    client = client_for(csm)

    set_response = client.patch(url(risk.pk), {"secondary_cause": "defects", "version": 1})
    cleared = client.patch(url(risk.pk), {"secondary_cause": None, "version": 2})

    assert set_response.json()["secondary_cause"] == "defects"
    assert cleared.status_code == 200
    assert cleared.json()["secondary_cause"] is None


def test_patch_without_version_is_400(csm, risk):
    response = client_for(csm).patch(url(risk.pk), {"summary": "New."})

    assert response.status_code == 400
    assert response.json() == {"version": ["This field is required."]}
    risk.refresh_from_db()
    assert risk.summary == "Usage fell by half."


def test_patch_with_a_stale_version_is_409_and_changes_nothing(csm, manager, risk):
    services.risk_edit(user=manager, risk=risk, version=1, summary="Manager's words.")

    response = client_for(csm).patch(url(risk.pk), {"summary": "Mine.", "version": 1})

    assert response.status_code == 409
    body = response.json()
    assert body["existing"] == risk.pk
    assert "version" in body["detail"]
    risk.refresh_from_db()
    assert (risk.summary, risk.version) == ("Manager's words.", 2)


def test_patch_ignores_read_only_fields(csm, risk, other_csm):
    response = client_for(csm).patch(
        url(risk.pk),
        {
            "tier": 3,
            "max_tier": 3,
            "status": "saved",
            "account": 999,
            "opened_by": other_csm.pk,
            "arr_retained": "1.00",
            "outcome_note": "x",
            "next_steps": "Workshop.",
            "version": 1,
        },
    )

    assert response.status_code == 200
    risk.refresh_from_db()
    assert (risk.tier, risk.max_tier, risk.status) == (1, 1, RiskStatus.OPEN)
    assert risk.opened_by == csm and risk.arr_retained is None and risk.outcome_note == ""
    assert risk.next_steps == "Workshop."


def test_patch_may_keep_an_inactive_cause_already_on_the_record(csm, risk, low_usage):
    low_usage.active = False
    low_usage.save()

    response = client_for(csm).patch(url(risk.pk), {"summary": "Still.", "version": 1})

    assert response.status_code == 200


def test_patch_refuses_an_inactive_new_cause(csm, risk):
    factories.RootCauseFactory(code="retired", active=False)

    response = client_for(csm).patch(url(risk.pk), {"primary_cause": "retired", "version": 1})

    assert response.status_code == 400
    assert "primary_cause" in response.json()


def test_patch_of_a_closed_record_is_409(csm, risk):
    risk = services.risk_close(user=csm, risk=risk, outcome="churned", note="Gone.")

    response = client_for(csm).patch(url(risk.pk), {"summary": "x", "version": risk.version})

    assert response.status_code == 409


def test_patch_of_an_unknown_record_is_404(csm):
    assert client_for(csm).patch(url(999999), {"version": 1}).status_code == 404


@pytest.mark.parametrize("method", ["put", "delete"])
def test_put_and_delete_are_not_allowed(csm, admin_user, risk, method):
    for user in (csm, admin_user):
        response = getattr(client_for(user), method)(url(risk.pk), {"version": 1})
        assert response.status_code == 405
    assert RiskRecord.objects.filter(pk=risk.pk).exists()


# --- escalate ------------------------------------------------------------------------------


def test_csm_escalation_waits_for_the_manager(csm, risk):
    response = client_for(csm).post(url(risk.pk, "escalate"), {"reason": "Need help."})

    assert response.status_code == 201
    body = response.json()
    assert list(body) == ESCALATION_FIELDS
    assert body["risk"] == risk.pk
    assert (body["from_tier"], body["to_tier"], body["status"]) == (1, 2, "pending")
    assert body["requested_by"] == csm.pk and body["decided_by"] is None
    assert is_iso_datetime(body["requested_at"])
    risk.refresh_from_db()
    assert risk.tier == 1


def test_manager_escalation_is_approved_at_once(manager, risk):
    response = client_for(manager).post(url(risk.pk, "escalate"), {"reason": "Joining."})

    assert response.status_code == 201
    assert response.json()["status"] == "approved"
    risk.refresh_from_db()
    assert risk.tier == 2


def test_escalation_while_one_is_pending_is_409(csm, risk):
    services.escalation_request(user=csm, risk=risk, reason="First.")

    response = client_for(csm).post(url(risk.pk, "escalate"), {"reason": "Second."})

    assert response.status_code == 409
    assert response.json()["existing"] == Escalation.objects.get().pk


def test_escalation_beyond_tier_3_is_409(admin_user, tier2_risk):
    services.escalation_request(user=admin_user, risk=tier2_risk, reason="Review.")

    response = client_for(admin_user).post(url(tier2_risk.pk, "escalate"), {"reason": "More."})

    assert response.status_code == 409


def test_escalation_of_a_closed_record_is_409(csm, risk):
    services.risk_close(user=csm, risk=risk, outcome="withdrawn", note="Raised in error.")

    response = client_for(csm).post(url(risk.pk, "escalate"), {"reason": "Help."})

    assert response.status_code == 409


def test_escalation_needs_a_reason(csm, risk):
    response = client_for(csm).post(url(risk.pk, "escalate"), {"reason": " "})

    assert response.status_code == 400
    assert "reason" in response.json()
    assert not Escalation.objects.exists()


def test_escalation_by_another_csm_is_403(other_csm, risk):
    response = client_for(other_csm).post(url(risk.pk, "escalate"), {"reason": "Help."})
    assert response.status_code == 403


def test_escalation_of_an_unknown_record_is_404(csm):
    assert client_for(csm).post(url(999999, "escalate"), {"reason": "x"}).status_code == 404


# --- de-escalate ---------------------------------------------------------------------------


def test_manager_deescalates_and_cancels_the_pending_escalation(csm, manager, tier2_risk):
    pending = services.escalation_request(user=csm, risk=tier2_risk, reason="Review.")

    response = client_for(manager).post(
        url(tier2_risk.pk, "deescalate"), {"to_tier": 1, "note": "Recovered.", "version": 2}
    )

    assert response.status_code == 200
    body = response.json()
    assert list(body) == RISK_FIELDS
    assert (body["tier"], body["max_tier"], body["version"]) == (1, 2, 3)
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.CANCELLED


def test_csm_cannot_deescalate(csm, tier2_risk):
    response = client_for(csm).post(
        url(tier2_risk.pk, "deescalate"), {"to_tier": 1, "note": "Recovered."}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to_tier": 2, "note": "Same tier."}, "to_tier"),
        ({"to_tier": 9, "note": "No such tier."}, "to_tier"),
        ({"to_tier": 1, "note": ""}, "note"),
        ({"note": "No tier."}, "to_tier"),
    ],
)
def test_invalid_deescalation_is_400(manager, tier2_risk, payload, field):
    response = client_for(manager).post(url(tier2_risk.pk, "deescalate"), payload)

    assert response.status_code == 400
    assert field in response.json()


def test_deescalation_with_a_stale_version_is_409(manager, tier2_risk):
    response = client_for(manager).post(
        url(tier2_risk.pk, "deescalate"), {"to_tier": 1, "note": "Recovered.", "version": 1}
    )
    assert response.status_code == 409


# --- close -----------------------------------------------------------------------------------


def test_saved_with_a_downsell(csm, risk):
    response = client_for(csm).post(
        url(risk.pk, "close"),
        {"outcome": "saved", "note": "Renewed smaller.", "arr_retained": "80000", "version": 1},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "saved"
    assert body["arr_retained"] == "80000.00"
    assert body["outcome_note"] == "Renewed smaller."
    assert body["closed_by"] == csm.pk and is_iso_datetime(body["closed_at"])


def test_saved_retains_the_arr_at_risk_by_default(csm, risk):
    response = client_for(csm).post(url(risk.pk, "close"), {"outcome": "saved", "note": "Kept."})
    assert response.json()["arr_retained"] == "120000.00"


def test_closing_cancels_the_pending_escalation(csm, risk):
    pending = services.escalation_request(user=csm, risk=risk, reason="Help.")

    client_for(csm).post(url(risk.pk, "close"), {"outcome": "churned", "note": "Lost."})

    pending.refresh_from_db()
    assert pending.status == EscalationStatus.CANCELLED


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"outcome": "lost", "note": "x"}, "outcome"),
        ({"outcome": "open", "note": "x"}, "outcome"),
        ({"outcome": "saved", "note": ""}, "note"),
        ({"outcome": "saved", "note": "x", "arr_retained": "130000.00"}, "arr_retained"),
        ({"outcome": "churned", "note": "x", "arr_retained": "10.00"}, "arr_retained"),
        ({"outcome": "saved", "note": "x", "arr_retained": "-1"}, "arr_retained"),
    ],
)
def test_invalid_close_is_400(csm, risk, payload, field):
    response = client_for(csm).post(url(risk.pk, "close"), payload)

    assert response.status_code == 400
    assert field in response.json()
    risk.refresh_from_db()
    assert risk.is_open


def test_closing_a_closed_record_is_409(csm, risk):
    services.risk_close(user=csm, risk=risk, outcome="churned", note="Lost.")

    response = client_for(csm).post(url(risk.pk, "close"), {"outcome": "saved", "note": "x"})

    assert response.status_code == 409
    assert "read-only" in response.json()["detail"]


def test_closing_with_a_stale_version_is_409(csm, manager, risk):
    services.risk_edit(user=manager, risk=risk, version=1, summary="Changed.")

    response = client_for(csm).post(
        url(risk.pk, "close"), {"outcome": "saved", "note": "x", "version": 1}
    )

    assert response.status_code == 409


def test_reviewer_cannot_close(reviewer, risk):
    response = client_for(reviewer).post(url(risk.pk, "close"), {"outcome": "saved", "note": "x"})
    assert response.status_code == 403


# --- notes and timeline --------------------------------------------------------------------


def test_note_is_added_to_the_timeline(csm, risk):
    response = client_for(csm).post(url(risk.pk, "notes"), {"text": "Met the sponsor."})

    assert response.status_code == 201
    body = response.json()
    assert list(body) == EVENT_FIELDS
    assert (body["kind"], body["actor"], body["text"]) == ("note", csm.pk, "Met the sponsor.")
    assert body["data"] == {}
    assert is_iso_datetime(body["at"])


def test_blank_note_is_400(csm, risk):
    response = client_for(csm).post(url(risk.pk, "notes"), {"text": ""})

    assert response.status_code == 400
    assert "text" in response.json()


def test_note_on_a_closed_record_is_409(csm, risk):
    services.risk_close(user=csm, risk=risk, outcome="churned", note="Lost.")

    assert client_for(csm).post(url(risk.pk, "notes"), {"text": "x"}).status_code == 409


def test_note_by_a_reviewer_is_403(reviewer, risk):
    assert client_for(reviewer).post(url(risk.pk, "notes"), {"text": "x"}).status_code == 403


def test_timeline_lists_events_oldest_first(csm, manager, risk, reviewer):
    services.risk_add_note(user=csm, risk=risk, text="First note.")
    services.escalation_request(user=manager, risk=risk, reason="Joining.")

    response = client_for(reviewer).get(url(risk.pk, "timeline"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    kinds = [event["kind"] for event in body["results"]]
    assert kinds == ["opened", "note", "escalation_requested", "escalation_approved"]
    assert list(body["results"][0]) == EVENT_FIELDS
    assert body["results"][3]["data"]["to_tier"] == 2


def test_timeline_is_paginated(csm, risk):
    for n in range(3):
        services.risk_add_note(user=csm, risk=risk, text=f"Note {n}.")

    body = client_for(csm).get(url(risk.pk, "timeline"), {"page_size": 2, "page": 2}).json()

    assert body["count"] == 4
    assert [event["text"] for event in body["results"]] == ["Note 1.", "Note 2."]


def test_timeline_of_an_unknown_record_is_404(csm):
    assert client_for(csm).get(url(999999, "timeline")).status_code == 404


# --- permission table -------------------------------------------------------------------------

ROLES = [
    "anonymous",
    "owning_csm",
    "other_csm",
    "team_manager",
    "other_region_manager",
    "reviewer",
    "admin",
]
SIGNED_IN = set(ROLES) - {"anonymous"}
WORKERS = {"owning_csm", "team_manager", "admin"}
DECIDERS = {"team_manager", "admin"}
NOBODY: set[str] = set()

# (cell, allowed roles, status when allowed, status for other signed-in roles)
CELLS = [
    ("list", SIGNED_IN, 200, None),
    ("retrieve", SIGNED_IN, 200, None),
    ("timeline", SIGNED_IN, 200, None),
    ("create", WORKERS, 201, 403),
    ("partial_update", WORKERS, 200, 403),
    ("escalate", WORKERS, 201, 403),
    ("deescalate", DECIDERS, 200, 403),
    ("close", WORKERS, 200, 403),
    ("notes", WORKERS, 201, 403),
    ("update", NOBODY, None, 405),
    ("destroy", NOBODY, None, 405),
]


@pytest.fixture
def people(csm, other_csm, manager, reviewer, admin_user):
    north_america = factories.RegionFactory(code="NA", name="North America")
    return {
        "anonymous": None,
        "owning_csm": csm,
        "other_csm": other_csm,
        "team_manager": manager,
        "other_region_manager": factories.ManagerFactory(username="nadia", region=north_america),
        "reviewer": reviewer,
        "admin": admin_user,
    }


@pytest.fixture
def scene(csm, tier2_risk):
    """A tier-2 record without a pending escalation, and an account to file on."""
    return {"risk": tier2_risk, "spare": factories.AccountFactory(csm=csm)}


def _call(client: APIClient, cell: str, scene) -> int:
    risk = scene["risk"]
    calls = {
        "list": lambda: client.get(url()),
        "retrieve": lambda: client.get(url(risk.pk)),
        "timeline": lambda: client.get(url(risk.pk, "timeline")),
        "create": lambda: client.post(url(), filing(scene["spare"])),
        "partial_update": lambda: client.patch(
            url(risk.pk), {"summary": "Edited.", "version": risk.version}
        ),
        "escalate": lambda: client.post(url(risk.pk, "escalate"), {"reason": "Review."}),
        "deescalate": lambda: client.post(
            url(risk.pk, "deescalate"), {"to_tier": 1, "note": "Better."}
        ),
        "close": lambda: client.post(url(risk.pk, "close"), {"outcome": "saved", "note": "Kept."}),
        "notes": lambda: client.post(url(risk.pk, "notes"), {"text": "A note."}),
        "update": lambda: client.put(url(risk.pk), {"summary": "x", "version": risk.version}),
        "destroy": lambda: client.delete(url(risk.pk)),
    }
    return calls[cell]().status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("cell", "allowed", "status", "refused"), CELLS, ids=[cell[0] for cell in CELLS]
)
def test_permission_table(people, scene, role, cell, allowed, status, refused):
    if role == "anonymous":
        expected = 401
    elif role in allowed:
        expected = status
    else:
        expected = refused
    before = TimelineEvent.objects.count()

    assert _call(client_for(people[role]), cell, scene) == expected

    if expected >= 400:
        assert TimelineEvent.objects.count() == before  # a refusal writes nothing


# --- query counts -------------------------------------------------------------------------


@pytest.fixture
def many_risks(low_usage, defects):
    """110 records, each on its own account, region, CSM and causes, so a query
    per row for any related object would show."""
    rows = []
    for n in range(110):
        account = factories.AccountFactory(region=factories.RegionFactory(code=f"Q{n}"))
        rows.append(
            factories.RiskRecordFactory(
                account=account,
                primary_cause=factories.RootCauseFactory(code=f"q-cause-{n}"),
                secondary_cause=defects if n % 2 else None,
            )
        )
    return rows


@pytest.mark.parametrize("params", [{}, {"status": "open", "region": "Q1", "ordering": "tier"}])
def test_risk_list_costs_the_same_queries_for_1_and_100_rows(
    csm, many_risks, django_assert_num_queries, params
):
    client = client_for(csm)
    # causes for the filter's choices, the region of the filter when given, count, page
    expected = 4 if "region" in params else 3
    with django_assert_num_queries(expected):
        small = client.get(url(), {**params, "page_size": 1})
    with django_assert_num_queries(expected):
        large = client.get(url(), {**params, "page_size": 100})

    assert small.status_code == large.status_code == 200
    if not params:
        assert len(large.json()["results"]) == 100


def test_timeline_costs_the_same_queries_for_1_and_100_events(csm, risk, django_assert_num_queries):
    TimelineEvent.objects.bulk_create(
        TimelineEvent(risk=risk, kind=TimelineKind.NOTE, actor=csm, text=f"Note {n}.")
        for n in range(110)
    )
    client = client_for(csm)
    # the record, count, page
    with django_assert_num_queries(3):
        small = client.get(url(risk.pk, "timeline"), {"page_size": 1})
    with django_assert_num_queries(3):
        large = client.get(url(risk.pk, "timeline"), {"page_size": 100})

    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 100


def test_building_the_schema_leaves_the_list_page_filters_alone(csm, filter_world):
    from drf_spectacular.generators import SchemaGenerator

    from risks.filters import RiskFilter

    SchemaGenerator().get_schema(request=None, public=True)

    page_form = RiskFilter({}, queryset=RiskRecord.objects.none()).form
    assert page_form.fields["tier"].label == "Tier"
    assert page_form.fields["status"].label == "Status"
    response = client_for(csm).get(url(), {"tier": "3", "primary_cause": "defects"})
    assert ids(response) == [filter_world["hit"].pk]
