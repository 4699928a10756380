"""/api/v1/root-causes/ (docs/api.md): everyone signed in reads, CS
operations admins write; a cause still in use cannot be deleted (409)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from risks.models import RootCause
from tests import factories

pytestmark = pytest.mark.django_db

FIELDS = ["id", "code", "name", "category", "description", "active"]
SEEDED = 10


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def url(pk: int | None = None) -> str:
    return "/api/v1/root-causes/" if pk is None else f"/api/v1/root-causes/{pk}/"


def codes(response) -> list[str]:
    return [row["code"] for row in response.json()["results"]]


NEW_CAUSE = {
    "code": "pricing",
    "name": "Pricing",
    "category": "commercial",
    "description": "The price no longer fits the value the customer sees.",
}


# --- reading -------------------------------------------------------------------------------


def test_root_cause_is_represented_with_exactly_the_fields_of_the_design(csm, low_usage):
    response = client_for(csm).get(url(low_usage.pk))

    assert response.status_code == 200
    assert response.json() == {
        "id": low_usage.pk,
        "code": "low-usage",
        "name": low_usage.name,
        "category": "adoption",
        "description": low_usage.description,
        "active": True,
    }


def test_list_shows_every_cause_by_code(reviewer):
    response = client_for(reviewer).get(url())

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == SEEDED
    assert list(body["results"][0]) == FIELDS
    assert codes(response) == sorted(codes(response))


@pytest.fixture
def retired():
    return factories.RootCauseFactory(
        code="legacy-ui", name="Legacy UI", category="product", active=False
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"active": "false"}, {"legacy-ui"}),
        ({"category": "product", "active": "true"}, None),  # the five seeded product causes
        ({"search": "legacy"}, {"legacy-ui"}),  # by code or name
        ({"search": "champion"}, {"lost-champion"}),
        ({"search": "zzz-nothing"}, set()),
    ],
)
def test_each_filter_selects_the_matching_causes(csm, retired, params, expected):
    response = client_for(csm).get(url(), params)

    assert response.status_code == 200
    if expected is None:
        assert len(codes(response)) == 5
        assert all(row["category"] == "product" for row in response.json()["results"])
        assert "legacy-ui" not in codes(response)
    else:
        assert set(codes(response)) == expected


def test_search_matches_the_description(csm):
    factories.RootCauseFactory(code="budget-cuts", description="The customer froze spending.")
    assert codes(client_for(csm).get(url(), {"search": "froze"})) == ["budget-cuts"]


@pytest.mark.parametrize("ordering", ["code", "-code", "name", "-name", "category", "-category"])
def test_ordering(csm, ordering):
    response = client_for(csm).get(url(), {"ordering": ordering})

    key = ordering.lstrip("-")
    values = [row[key] for row in response.json()["results"]]
    assert values == sorted(values, reverse=ordering.startswith("-"))


@pytest.mark.parametrize(
    ("params", "field"), [({"active": "perhaps"}, "active"), ({"ordering": "id"}, "ordering")]
)
def test_invalid_filter_values_are_400(csm, params, field):
    response = client_for(csm).get(url(), params)

    assert response.status_code == 400
    assert field in response.json()


def test_unknown_cause_is_404(csm):
    assert client_for(csm).get(url(999999)).status_code == 404


def test_anonymous_is_asked_to_authenticate():
    assert APIClient().get(url()).status_code == 401


# --- writing -------------------------------------------------------------------------------


def test_admin_adds_a_cause(admin_user):
    response = client_for(admin_user).post(url(), NEW_CAUSE)

    assert response.status_code == 201
    assert response.json() == {"id": response.json()["id"], **NEW_CAUSE, "active": True}
    assert RootCause.objects.filter(code="pricing", category="commercial").exists()


def test_superuser_writes_whatever_their_role(csm):
    csm.is_superuser = True
    csm.save()
    assert client_for(csm).post(url(), NEW_CAUSE).status_code == 201


def test_admin_retires_a_cause(admin_user, low_usage):
    response = client_for(admin_user).patch(url(low_usage.pk), {"active": False})

    assert response.status_code == 200
    low_usage.refresh_from_db()
    assert low_usage.active is False


def test_admin_replaces_a_cause(admin_user, low_usage):
    response = client_for(admin_user).put(url(low_usage.pk), {**NEW_CAUSE, "code": "low-usage"})

    assert response.status_code == 200
    low_usage.refresh_from_db()
    assert (low_usage.name, low_usage.category) == ("Pricing", "commercial")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": "low-usage"}, "code"),  # already taken
        ({"code": "not a slug"}, "code"),
        ({"category": ""}, "category"),
        ({"name": ""}, "name"),
        ({"description": ""}, "description"),
    ],
)
def test_invalid_cause_is_400_on_the_field(admin_user, overrides, field):
    response = client_for(admin_user).post(url(), {**NEW_CAUSE, **overrides})

    assert response.status_code == 400
    assert field in response.json()
    assert RootCause.objects.count() == SEEDED


def test_causes_are_never_deleted_even_unused_ones(admin_user):
    cause = factories.RootCauseFactory(code="typo")

    response = client_for(admin_user).delete(url(cause.pk))

    assert response.status_code == 409
    assert response.json()["detail"].startswith("Root causes are never deleted")
    assert "active: false" in response.json()["detail"]
    assert RootCause.objects.filter(code="typo").exists()


def test_deleting_a_cause_in_use_is_409(admin_user, low_usage, account):
    factories.RiskRecordFactory(account=account, primary_cause=low_usage)

    response = client_for(admin_user).delete(url(low_usage.pk))

    assert response.status_code == 409
    assert RootCause.objects.filter(pk=low_usage.pk).exists()


def test_code_of_an_unused_cause_can_be_corrected(admin_user):
    cause = factories.RootCauseFactory(code="typo-cause")

    response = client_for(admin_user).patch(url(cause.pk), {"code": "pricing"})

    assert response.status_code == 200
    assert response.json()["code"] == "pricing"
    cause.refresh_from_db()
    assert cause.code == "pricing"


@pytest.mark.parametrize("field", ["primary_cause", "secondary_cause"])
def test_code_of_a_cause_in_use_cannot_change(admin_user, low_usage, defects, account, field):
    other = defects if field == "secondary_cause" else factories.RootCauseFactory(code="x")
    causes = {"primary_cause": low_usage, "secondary_cause": other}
    if field == "secondary_cause":
        causes = {"primary_cause": other, "secondary_cause": low_usage}
    factories.RiskRecordFactory(account=account, **causes)

    response = client_for(admin_user).patch(url(low_usage.pk), {"code": "renamed"})

    assert response.status_code == 409
    assert "its code cannot change" in response.json()["detail"]
    low_usage.refresh_from_db()
    assert low_usage.code == "low-usage"


def test_name_of_a_cause_in_use_can_change(admin_user, low_usage, account):
    factories.RiskRecordFactory(account=account, primary_cause=low_usage)

    response = client_for(admin_user).patch(
        url(low_usage.pk), {"code": "low-usage", "name": "Usage dropping"}
    )

    assert response.status_code == 200
    low_usage.refresh_from_db()
    assert (low_usage.code, low_usage.name) == ("low-usage", "Usage dropping")


def test_deleting_an_unknown_cause_is_404(admin_user):
    assert client_for(admin_user).delete(url(999999)).status_code == 404


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
ADMINS = {"admin"}

# (cell, allowed roles, status when allowed); everyone else signed in gets 403.
CELLS = [
    ("list", SIGNED_IN, 200),
    ("retrieve", SIGNED_IN, 200),
    ("create", ADMINS, 201),
    ("update", ADMINS, 200),
    ("partial_update", ADMINS, 200),
    ("destroy", ADMINS, 409),  # never deleted, even by an admin
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


def _call(client: APIClient, cell: str, cause: RootCause) -> int:
    calls = {
        "list": lambda: client.get(url()),
        "retrieve": lambda: client.get(url(cause.pk)),
        "create": lambda: client.post(url(), NEW_CAUSE),
        "update": lambda: client.put(url(cause.pk), {**NEW_CAUSE, "code": cause.code}),
        "partial_update": lambda: client.patch(url(cause.pk), {"active": False}),
        "destroy": lambda: client.delete(url(cause.pk)),
    }
    return calls[cell]().status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("cell", "allowed", "status"), CELLS, ids=[cell[0] for cell in CELLS])
def test_permission_table(people, role, cell, allowed, status):
    cause = factories.RootCauseFactory(code="unused", name="Unused")
    if role == "anonymous":
        expected = 401
    elif role in allowed:
        expected = status
    else:
        expected = 403

    assert _call(client_for(people[role]), cell, cause) == expected

    if expected >= 400:
        assert RootCause.objects.filter(pk=cause.pk).exists()
        cause.refresh_from_db()
        assert (cause.name, cause.active) == ("Unused", True)
        assert not RootCause.objects.filter(code="pricing").exists()


# --- query count --------------------------------------------------------------------------


def test_root_cause_list_costs_the_same_queries_for_1_and_100_rows(csm, django_assert_num_queries):
    RootCause.objects.bulk_create(
        RootCause(code=f"cause-{n:03d}", name=f"Cause {n}", category="product", description="d")
        for n in range(100)
    )
    client = client_for(csm)
    # count, page
    with django_assert_num_queries(2):
        small = client.get(url(), {"page_size": 1})
    with django_assert_num_queries(2):
        large = client.get(url(), {"page_size": 100})

    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 100
