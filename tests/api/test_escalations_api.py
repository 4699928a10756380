"""/api/v1/escalations/ (docs/api.md): read-only listing with its filters,
approve and reject through the services, every error status, the permission
table and the query count of the list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from risks import services
from risks.models import Escalation, EscalationStatus, RiskRecord, TimelineEvent, TimelineKind
from tests import factories

pytestmark = pytest.mark.django_db

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
    path = "/api/v1/escalations/"
    if pk is not None:
        path += f"{pk}/"
    if action:
        path += f"{action}/"
    return path


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


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
def pending(csm, risk) -> Escalation:
    return services.escalation_request(user=csm, risk=risk, reason="Need my manager.")


# --- reading -------------------------------------------------------------------------------


def test_escalation_is_represented_with_exactly_the_fields_of_the_design(reviewer, pending, csm):
    response = client_for(reviewer).get(url(pending.pk))

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ESCALATION_FIELDS
    assert body["risk"] == pending.risk_id
    assert (body["from_tier"], body["to_tier"], body["status"]) == (1, 2, "pending")
    assert body["reason"] == "Need my manager."
    assert body["requested_by"] == csm.pk
    assert dt.datetime.fromisoformat(body["requested_at"]).tzinfo is not None
    assert body["decided_by"] is None and body["decided_at"] is None
    assert body["decision_note"] == ""


def test_list_shows_every_escalation_newest_first(csm, manager, pending, other_csm, low_usage):
    other_risk = services.risk_open(
        user=other_csm,
        account=factories.AccountFactory(csm=other_csm),
        primary_cause=low_usage,
        summary="s",
        next_steps="n",
    )
    newer = services.escalation_request(user=other_csm, risk=other_risk, reason="Help.")

    response = client_for(csm).get(url())

    assert response.status_code == 200
    assert ids(response) == [newer.pk, pending.pk]


@pytest.fixture
def filter_world(csm, manager, risk, low_usage):
    """``hit``: an approved escalation in NA; ``miss``: a pending one in EMEA."""
    north_america = factories.RegionFactory(code="NA", name="North America")
    nadia = factories.ManagerFactory(username="nadia", region=north_america)
    nina = factories.CsmFactory(username="nina", manager=nadia, region=north_america)
    na_risk = services.risk_open(
        user=nina,
        account=factories.AccountFactory(csm=nina, region=north_america),
        primary_cause=low_usage,
        summary="s",
        next_steps="n",
    )
    hit = services.escalation_request(user=nadia, risk=na_risk, reason="Approved at once.")
    miss = services.escalation_request(user=csm, risk=risk, reason="Waiting.")
    return {"hit": hit, "miss": miss}


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("status", lambda w: "approved", "hit"),
        ("status", lambda w: "pending", "miss"),
        ("region", lambda w: "NA", "hit"),
        ("region", lambda w: "EMEA", "miss"),
        ("risk", lambda w: str(w["hit"].risk_id), "hit"),
    ],
)
def test_each_filter_selects_the_matching_escalations(csm, filter_world, param, value, expected):
    response = client_for(csm).get(url(), {param: value(filter_world)})

    assert response.status_code == 200, response.json()
    assert ids(response) == [filter_world[expected].pk]


def test_ordering_by_request_time(csm, filter_world):
    response = client_for(csm).get(url(), {"ordering": "requested_at"})
    assert ids(response) == [filter_world["hit"].pk, filter_world["miss"].pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "maybe"}, "status"),
        ({"region": "MARS"}, "region"),
        ({"risk": "999999"}, "risk"),
        ({"risk": "abc"}, "risk"),
        ({"ordering": "reason"}, "ordering"),
    ],
)
def test_invalid_filter_values_are_400_with_the_field_errors(csm, pending, params, field):
    response = client_for(csm).get(url(), params)

    assert response.status_code == 400
    assert field in response.json()


def test_unknown_escalation_is_404(csm):
    assert client_for(csm).get(url(999999)).status_code == 404


def test_anonymous_is_asked_to_authenticate(pending):
    assert APIClient().get(url()).status_code == 401


@pytest.mark.parametrize(
    ("method", "target"),
    [("post", "list"), ("put", "detail"), ("patch", "detail"), ("delete", "detail")],
)
def test_escalations_are_read_only_as_a_resource(admin_user, pending, method, target):
    path = url() if target == "list" else url(pending.pk)

    response = getattr(client_for(admin_user), method)(
        path, {"risk": pending.risk_id, "reason": "x", "status": "approved"}
    )

    assert response.status_code == 405
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.PENDING
    assert Escalation.objects.count() == 1


# --- approve -------------------------------------------------------------------------------


def test_manager_approves_with_a_note(manager, pending):
    response = client_for(manager).post(url(pending.pk, "approve"), {"note": "Go ahead."})

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ESCALATION_FIELDS
    assert (body["status"], body["decided_by"], body["decision_note"]) == (
        "approved",
        manager.pk,
        "Go ahead.",
    )
    assert dt.datetime.fromisoformat(body["decided_at"]).tzinfo is not None
    pending.risk.refresh_from_db()
    assert pending.risk.tier == 2


def test_approval_note_is_optional(admin_user, pending):
    response = client_for(admin_user).post(url(pending.pk, "approve"), {})

    assert response.status_code == 200
    assert response.json()["decision_note"] == ""


def test_csm_cannot_approve_own_escalation(csm, pending):
    response = client_for(csm).post(url(pending.pk, "approve"), {})

    assert response.status_code == 403
    assert "detail" in response.json()
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.PENDING


def test_manager_of_another_team_cannot_approve(other_manager, pending):
    assert client_for(other_manager).post(url(pending.pk, "approve"), {}).status_code == 403


def test_approving_a_decided_escalation_is_409(manager, pending):
    services.escalation_reject(user=manager, escalation=pending, note="Not yet.")

    response = client_for(manager).post(url(pending.pk, "approve"), {})

    assert response.status_code == 409
    assert "already rejected" in response.json()["detail"]


def test_approving_an_escalation_cancelled_by_closing_is_409(csm, manager, pending):
    services.risk_close(user=csm, risk=pending.risk, outcome="saved", note="Renewed.")

    assert client_for(manager).post(url(pending.pk, "approve"), {}).status_code == 409


def test_approving_an_unknown_escalation_is_404(manager):
    assert client_for(manager).post(url(999999, "approve"), {}).status_code == 404


# --- reject --------------------------------------------------------------------------------


def test_manager_rejects_saying_why(manager, pending):
    response = client_for(manager).post(url(pending.pk, "reject"), {"note": "Try the plan first."})

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["decision_note"]) == ("rejected", "Try the plan first.")
    pending.risk.refresh_from_db()
    assert pending.risk.tier == 1
    event = TimelineEvent.objects.get(kind=TimelineKind.ESCALATION_REJECTED)
    assert event.text == "Try the plan first."


@pytest.mark.parametrize("payload", [{"note": ""}, {"note": "   "}, {}])
def test_rejection_without_a_note_is_400(manager, pending, payload):
    response = client_for(manager).post(url(pending.pk, "reject"), payload)

    assert response.status_code == 400
    assert list(response.json()) == ["note"]
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.PENDING


def test_rejecting_a_decided_escalation_is_409(manager, pending):
    services.escalation_approve(user=manager, escalation=pending)

    response = client_for(manager).post(url(pending.pk, "reject"), {"note": "Changed my mind."})

    assert response.status_code == 409


def test_reviewer_cannot_reject(reviewer, pending):
    assert client_for(reviewer).post(url(pending.pk, "reject"), {"note": "No."}).status_code == 403


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
DECIDERS = {"team_manager", "admin"}

# (cell, allowed roles, status when allowed, status for other signed-in roles)
CELLS = [
    ("list", SIGNED_IN, 200, None),
    ("retrieve", SIGNED_IN, 200, None),
    ("approve", DECIDERS, 200, 403),
    ("reject", DECIDERS, 200, 403),
    ("create", set(), None, 405),
    ("update", set(), None, 405),
    ("partial_update", set(), None, 405),
    ("destroy", set(), None, 405),
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


def _call(client: APIClient, cell: str, escalation: Escalation) -> int:
    pk = escalation.pk
    calls = {
        "list": lambda: client.get(url()),
        "retrieve": lambda: client.get(url(pk)),
        "approve": lambda: client.post(url(pk, "approve"), {"note": "Yes."}),
        "reject": lambda: client.post(url(pk, "reject"), {"note": "No."}),
        "create": lambda: client.post(url(), {"risk": escalation.risk_id, "reason": "x"}),
        "update": lambda: client.put(url(pk), {"status": "approved"}),
        "partial_update": lambda: client.patch(url(pk), {"status": "approved"}),
        "destroy": lambda: client.delete(url(pk)),
    }
    return calls[cell]().status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("cell", "allowed", "status", "refused"), CELLS, ids=[cell[0] for cell in CELLS]
)
def test_permission_table(people, pending, role, cell, allowed, status, refused):
    if role == "anonymous":
        expected = 401
    elif role in allowed:
        expected = status
    else:
        expected = refused

    assert _call(client_for(people[role]), cell, pending) == expected

    pending.refresh_from_db()
    if expected >= 400:
        assert pending.status == EscalationStatus.PENDING


# --- query count --------------------------------------------------------------------------


def test_escalation_list_costs_the_same_queries_for_1_and_100_rows(
    csm, manager, risk, django_assert_num_queries
):
    now = timezone.now()
    for n in range(110):
        factories.EscalationFactory(
            risk=risk,
            from_tier=1,
            to_tier=2,
            status=EscalationStatus.APPROVED,
            requested_by=csm if n % 2 else manager,
            requested_at=now - dt.timedelta(minutes=n),
            decided_by=manager,
            decided_at=now - dt.timedelta(minutes=n),
        )
    client = client_for(csm)
    # count, page
    with django_assert_num_queries(2):
        small = client.get(url(), {"page_size": 1})
    with django_assert_num_queries(2):
        large = client.get(url(), {"page_size": 100})
    # with the region filter: its lookup, count, page
    with django_assert_num_queries(3):
        client.get(url(), {"page_size": 1, "region": "EMEA"})
    with django_assert_num_queries(3):
        filtered = client.get(url(), {"page_size": 100, "region": "EMEA"})

    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 100
    assert filtered.json()["count"] == 110
