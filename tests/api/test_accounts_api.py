"""The API of people, regions, segments and customer accounts (docs/api.md):
fields, filters, errors, who may write, and query counts that do not grow with
the page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Account, Region, Role, Segment, User
from core.money import MONEY_MESSAGE
from risks import services
from risks.models import RootCause
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    return client_for(admin_user)


@pytest.fixture
def enterprise() -> Segment:
    return Segment.objects.get(code="enterprise")


# --- permission table -------------------------------------------------------------

ROLES = [
    "anonymous",
    "csm",
    "other_team_csm",
    "manager",
    "other_region_manager",
    "reviewer",
    "admin",
]
ACTIONS = ["list", "retrieve", "create", "put", "patch", "delete"]

ADMIN_ONLY = {
    "anonymous": (401, 401, 401, 401, 401, 401),
    "csm": (200, 200, 403, 403, 403, 403),
    "other_team_csm": (200, 200, 403, 403, 403, 403),
    "manager": (200, 200, 403, 403, 403, 403),
    "other_region_manager": (200, 200, 403, 403, 403, 403),
    "reviewer": (200, 200, 403, 403, 403, 403),
    "admin": (200, 200, 201, 200, 200, 204),
}
# The account of the table belongs to the csm, whose manager is "manager";
# new accounts are given to that csm.
ACCOUNTS = {
    "anonymous": (401, 401, 401, 401, 401, 401),
    "csm": (200, 200, 403, 403, 403, 403),
    "other_team_csm": (200, 200, 403, 403, 403, 403),
    "manager": (200, 200, 201, 200, 200, 204),
    "other_region_manager": (200, 200, 403, 403, 403, 403),
    "reviewer": (200, 200, 403, 403, 403, 403),
    "admin": (200, 200, 201, 200, 200, 204),
}
TABLE = {"users": ADMIN_ONLY, "regions": ADMIN_ONLY, "segments": ADMIN_ONLY, "accounts": ACCOUNTS}

CELLS = [
    pytest.param(resource, role, action, expected[role][ACTIONS.index(action)], id=cell_id)
    for resource, expected in TABLE.items()
    for role in ROLES
    for action in ACTIONS
    for cell_id in [f"{resource}-{role}-{action}"]
]


@pytest.fixture
def people(csm, other_csm, manager, reviewer, admin_user) -> dict[str, User | None]:
    americas = factories.RegionFactory(code="NA", timezone="America/New_York")
    return {
        "anonymous": None,
        "csm": csm,
        "other_team_csm": other_csm,
        "manager": manager,
        "other_region_manager": factories.ManagerFactory(username="nora", region=americas),
        "reviewer": reviewer,
        "admin": admin_user,
    }


def new_object(resource: str, *, csm: User, region: Region) -> object:
    """An object nothing refers to, so that deleting it is allowed."""
    if resource == "users":
        return factories.CsmFactory(username="victor", region=region, manager=None)
    if resource == "regions":
        return factories.RegionFactory(code="LATAM", timezone="America/Sao_Paulo")
    if resource == "segments":
        return factories.SegmentFactory(code="startup", name="Start-up")
    return factories.AccountFactory(csm=csm, region=region)


def full_body(resource: str, *, csm: User | None = None, manager: User | None = None) -> dict:
    """A valid body for POST and PUT."""
    if resource == "users":
        return {
            "username": "newbie",
            "email": "newbie@example.com",
            "first_name": "Nina",
            "last_name": "Neu",
            "role": "csm",
            "region": "EMEA",
            "manager": manager.pk if manager else None,
            "department": "",
            "password": "a-long-unusual-passphrase-7",
        }
    if resource == "regions":
        return {
            "code": "APAC",
            "name": "Asia Pacific",
            "timezone": "Asia/Singapore",
            "review_weekday": 3,
            "review_time": "09:30",
        }
    if resource == "segments":
        return {"code": "public-sector", "name": "Public sector"}
    return {
        "external_id": "CRM-NEW",
        "name": "New Customer AG",
        "region": "EMEA",
        "segment": "enterprise",
        "arr": "1000.00",
        "renewal_date": "2030-01-31",
        "csm": csm.pk,
    }


@pytest.mark.parametrize(("resource", "role", "action", "expected"), CELLS)
def test_permission_table(resource, role, action, expected, people, csm, manager, region):
    target = new_object(resource, csm=csm, region=region)
    client = client_for(people[role])
    body = full_body(resource, csm=csm, manager=manager)
    collection, item = f"{API}/{resource}/", f"{API}/{resource}/{target.pk}/"
    response = {
        "list": lambda: client.get(collection),
        "retrieve": lambda: client.get(item),
        "create": lambda: client.post(collection, body),
        "put": lambda: client.put(item, body),
        "patch": lambda: client.patch(item, {"name": "Renamed"}),
        "delete": lambda: client.delete(item),
    }[action]()
    assert response.status_code == expected, response.data


def test_anonymous_requests_get_401_with_a_token_challenge():
    response = APIClient().get(f"{API}/accounts/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


# --- users ---------------------------------------------------------------------------


def test_user_fields(admin_api, csm, manager):
    response = admin_api.get(f"{API}/users/{csm.pk}/")
    assert response.status_code == 200
    assert response.data == {
        "id": csm.pk,
        "username": "carl",
        "email": "carl@example.com",
        "first_name": csm.first_name,
        "last_name": csm.last_name,
        "role": "csm",
        "region": "EMEA",
        "manager": manager.pk,
        "department": "",
        "is_active": True,
    }


def test_admin_creates_a_user_with_a_hashed_password(admin_api, manager):
    body = full_body("users", manager=manager)
    response = admin_api.post(f"{API}/users/", body)
    assert response.status_code == 201, response.data
    assert "password" not in response.data
    user = User.objects.get(username="newbie")
    assert user.password != body["password"]
    assert user.check_password(body["password"])
    assert (user.region.code, user.manager, user.role) == ("EMEA", manager, Role.CSM)


def test_a_user_created_without_password_cannot_sign_in_until_one_is_set(admin_api):
    response = admin_api.post(f"{API}/users/", {"username": "nopass", "role": "reviewer"})
    assert response.status_code == 201, response.data
    user = User.objects.get(username="nopass")
    assert not user.has_usable_password()
    response = admin_api.patch(f"{API}/users/{user.pk}/", {"password": "another-long-passphrase-9"})
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password("another-long-passphrase-9")


def test_an_update_without_password_keeps_the_password(admin_api, csm):
    response = admin_api.patch(f"{API}/users/{csm.pk}/", {"first_name": "Carlos"})
    assert response.status_code == 200
    csm.refresh_from_db()
    assert csm.first_name == "Carlos"
    assert csm.check_password("secret-pass-123")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "This password is too short"),
        ("password123", "This password is too common."),
        ("83920174650", "This password is entirely numeric."),
        ("newbie12", "The password is too similar to the username."),
    ],
)
def test_weak_passwords_are_refused_with_the_validators_messages(admin_api, password, message):
    response = admin_api.post(
        f"{API}/users/", {"username": "newbie", "role": "csm", "password": password}
    )
    assert response.status_code == 400
    assert any(text.startswith(message) for text in response.data["password"])
    assert not User.objects.filter(username="newbie").exists()


def test_the_manager_must_have_the_manager_role(admin_api, csm, other_csm):
    response = admin_api.patch(f"{API}/users/{csm.pk}/", {"manager": other_csm.pk})
    assert response.status_code == 400
    assert response.data == {"manager": ["The manager must have the manager role."]}


def test_nobody_is_their_own_manager(admin_api, manager):
    response = admin_api.patch(f"{API}/users/{manager.pk}/", {"manager": manager.pk})
    assert response.status_code == 400
    assert response.data == {"manager": ["A person cannot be their own manager."]}


def test_user_field_errors(admin_api, csm):
    response = admin_api.post(
        f"{API}/users/",
        {"username": "carl", "role": "boss", "region": "MARS", "manager": 999999},
    )
    assert response.status_code == 400
    assert set(response.data) == {"username", "role", "region", "manager"}
    assert response.data["username"] == ["A user with that username already exists."]


def test_a_manager_with_a_team_keeps_the_manager_role(admin_api, manager, csm):
    response = admin_api.patch(f"{API}/users/{manager.pk}/", {"role": "reviewer"})
    assert response.status_code == 400
    assert "still manages a team" in response.data["role"][0]


def test_an_account_owner_cannot_become_a_reviewer(admin_api, account):
    response = admin_api.patch(f"{API}/users/{account.csm_id}/", {"role": "reviewer"})
    assert response.status_code == 400
    assert "still owns customer accounts" in response.data["role"][0]


def test_deleting_a_user_who_owns_accounts_is_a_conflict(admin_api, account):
    response = admin_api.delete(f"{API}/users/{account.csm_id}/")
    assert response.status_code == 409
    assert "deactivate the person instead (is_active: false)" in response.data["detail"]
    assert User.objects.filter(pk=account.csm_id).exists()


def test_deleting_a_manager_with_a_team_is_a_conflict_and_the_team_keeps_them(
    admin_api, manager, csm
):
    csm.accounts.all().delete()

    response = admin_api.delete(f"{API}/users/{manager.pk}/")

    assert response.status_code == 409
    csm.refresh_from_db()
    assert csm.manager == manager


def test_a_person_nothing_refers_to_is_deleted(admin_api):
    loner = factories.ReviewerFactory(username="loner")

    assert admin_api.delete(f"{API}/users/{loner.pk}/").status_code == 204
    assert not User.objects.filter(pk=loner.pk).exists()


def test_a_deactivated_person_keeps_their_history_and_cannot_sign_in(admin_api, account):
    csm = account.csm

    response = admin_api.patch(f"{API}/users/{csm.pk}/", {"is_active": False})

    assert response.status_code == 200
    assert response.data["is_active"] is False
    csm.refresh_from_db()
    assert not csm.is_active
    assert account.csm_id == csm.pk
    assert (
        APIClient()
        .post(f"{API}/auth/token/", {"username": csm.username, "password": "secret-pass-123"})
        .status_code
        == 400
    )


def test_admins_cannot_deactivate_themselves(admin_api, admin_user):
    response = admin_api.patch(f"{API}/users/{admin_user.pk}/", {"is_active": False})

    assert response.status_code == 403
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_a_region_with_members_cannot_be_deleted(admin_api, reviewer):
    region = reviewer.region
    region.accounts.all().delete()

    response = admin_api.delete(f"{API}/regions/{region.pk}/")

    assert response.status_code == 409
    reviewer.refresh_from_db()
    assert reviewer.region == region


def test_the_admin_refuses_to_delete_a_region_with_members(client, reviewer):
    superuser = factories.AdminFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    region = reviewer.region

    page = client.post(reverse("admin:accounts_region_delete", args=[region.pk]), {"post": "yes"})

    assert page.status_code == 200
    assert "Cannot delete region" in page.content.decode()
    reviewer.refresh_from_db()
    assert reviewer.region == region


def test_admins_cannot_delete_themselves(admin_api, admin_user):
    response = admin_api.delete(f"{API}/users/{admin_user.pk}/")
    assert response.status_code == 403
    assert response.data == {"detail": "You cannot delete yourself."}


def test_an_unknown_user_is_404(admin_api):
    assert admin_api.get(f"{API}/users/999999/").status_code == 404


@pytest.fixture
def directory(csm, other_csm, manager, other_manager, reviewer, admin_user):
    # Fixed names: the factories' random ones could match a search.
    User.objects.update(first_name="Sam", last_name="Doe")
    americas = factories.RegionFactory(code="NA", timezone="America/New_York")
    return {
        "nora": factories.CsmFactory(
            username="nora",
            first_name="Nora",
            last_name="Quist",
            email="nq@corp.test",
            region=americas,
            manager=other_manager,
        )
    }


def usernames(response) -> list[str]:
    assert response.status_code == 200, response.data
    return [row["username"] for row in response.data["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("role=manager", ["maria", "otto"]),
        ("role=reviewer", ["rita"]),
        ("region=NA", ["nora"]),
        ("region=EMEA", ["carl", "maria", "olga", "otto", "rita"]),
        ("search=quist", ["nora"]),
        ("search=NQ@CORP", ["nora"]),
        ("search=ri", ["maria", "rita"]),
        # The system user that opens the records of risk rules is a user too
        # (inactive, written by a migration).
        (
            "ordering=-username",
            ["rita", "red-account-rules", "otto", "olga", "nora", "maria", "carl", "ada"],
        ),
    ],
)
def test_user_filters(admin_api, directory, query, expected):
    assert usernames(admin_api.get(f"{API}/users/?{query}")) == expected


def test_users_filter_by_manager(admin_api, directory, manager, other_manager):
    assert usernames(admin_api.get(f"{API}/users/?manager={manager.pk}")) == ["carl"]
    assert usernames(admin_api.get(f"{API}/users/?manager={other_manager.pk}")) == [
        "nora",
        "olga",
    ]


def test_an_invalid_user_filter_is_400(admin_api, csm):
    response = admin_api.get(f"{API}/users/?manager={csm.pk}&role=boss")
    assert response.status_code == 400
    assert set(response.data) == {"manager", "role"}


# --- regions and segments ---------------------------------------------------------


def test_region_fields(admin_api, region):
    response = admin_api.get(f"{API}/regions/{region.pk}/")
    assert response.data == {
        "id": region.pk,
        "code": "EMEA",
        "name": "Europe",
        "timezone": "Europe/Berlin",
        "review_weekday": 2,
        "review_time": "15:00",
    }


@pytest.mark.parametrize(("given", "stored"), [("09:30", "09:30"), ("09:30:45", "09:30")])
def test_review_time_is_hh_mm(admin_api, given, stored):
    body = {**full_body("regions"), "review_time": given}
    response = admin_api.post(f"{API}/regions/", body)
    assert response.status_code == 201, response.data
    assert response.data["review_time"] == stored
    assert Region.objects.get(code="APAC").review_time == dt.time(9, 30)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Mars/Olympus"),
        ("timezone", "CET/../etc"),
        ("review_weekday", 7),
        ("review_weekday", -1),
        ("review_time", "25:00"),
        ("review_time", "9.30"),
        ("code", ""),
    ],
)
def test_region_field_errors(admin_api, field, value):
    body = {**full_body("regions"), field: value}
    response = admin_api.post(f"{API}/regions/", body)
    assert response.status_code == 400
    assert list(response.data) == [field]


def test_region_codes_are_unique(admin_api, region):
    body = {**full_body("regions"), "code": "EMEA"}
    response = admin_api.post(f"{API}/regions/", body)
    assert response.status_code == 400
    assert "code" in response.data


def test_admin_changes_a_region_review_slot(admin_api, region):
    response = admin_api.patch(
        f"{API}/regions/{region.pk}/", {"review_weekday": 4, "review_time": "10:15"}
    )
    assert response.status_code == 200
    region.refresh_from_db()
    assert (region.review_weekday, region.review_time) == (4, dt.time(10, 15))


def test_deleting_a_region_with_accounts_is_a_conflict(admin_api, account):
    response = admin_api.delete(f"{API}/regions/{account.region_id}/")
    assert response.status_code == 409


def test_deleting_a_segment_with_accounts_is_a_conflict(admin_api, account):
    response = admin_api.delete(f"{API}/segments/{account.segment_id}/")
    assert response.status_code == 409


def test_segments_are_listed_by_name(admin_api):
    response = admin_api.get(f"{API}/segments/")
    assert [row["code"] for row in response.data["results"]] == [
        "enterprise",
        "mid-market",
        "smb",
        "strategic",
    ]
    assert set(response.data["results"][0]) == {"id", "code", "name"}


def test_segment_codes_are_slugs_and_unique(admin_api):
    response = admin_api.post(f"{API}/segments/", {"code": "not a slug", "name": "X"})
    assert response.status_code == 400
    assert "code" in response.data
    response = admin_api.post(f"{API}/segments/", {"code": "smb", "name": "X"})
    assert response.status_code == 400
    assert "code" in response.data


def test_unknown_region_and_segment_are_404(admin_api):
    assert admin_api.get(f"{API}/regions/999999/").status_code == 404
    assert admin_api.get(f"{API}/segments/999999/").status_code == 404


# --- accounts ---------------------------------------------------------------------


def open_risk_on(account: Account):
    return services.risk_open(
        user=account.csm,
        account=account,
        primary_cause=RootCause.objects.get(code="low-usage"),
        summary="Usage halved.",
        next_steps="Call the sponsor.",
    )


def test_account_fields(admin_api, account, csm):
    risk = open_risk_on(account)
    response = admin_api.get(f"{API}/accounts/{account.pk}/")
    assert response.status_code == 200
    assert response.data == {
        "id": account.pk,
        "external_id": account.external_id,
        "name": account.name,
        "region": "EMEA",
        "segment": "enterprise",
        "arr": "120000.00",
        "renewal_date": account.renewal_date.isoformat(),
        "csm": csm.pk,
        "status": "active",
        "churned_on": None,
        "open_risk": risk.pk,
        "health_score": None,
        "health_band": "",
        "health_as_of": None,
    }


def test_closed_risks_are_not_the_open_risk(admin_api, account, csm):
    risk = open_risk_on(account)
    services.risk_close(user=csm, risk=risk, outcome="withdrawn", note="Raised in error.")
    response = admin_api.get(f"{API}/accounts/{account.pk}/")
    assert response.data["open_risk"] is None


def test_manager_creates_an_account_for_their_team(manager, csm):
    body = full_body("accounts", csm=csm, manager=manager)
    response = client_for(manager).post(f"{API}/accounts/", body)
    assert response.status_code == 201, response.data
    assert response.data["open_risk"] is None
    assert response.data["arr"] == "1000.00"
    account = Account.objects.get(pk=response.data["id"])
    assert (account.csm, account.arr, account.external_id) == (csm, Decimal("1000"), "CRM-NEW")


def test_manager_may_own_an_account_themselves(manager, csm):
    body = {**full_body("accounts", csm=csm, manager=manager), "csm": manager.pk}
    assert client_for(manager).post(f"{API}/accounts/", body).status_code == 201


def test_manager_cannot_give_an_account_to_another_team(manager, account, other_csm):
    response = client_for(manager).patch(f"{API}/accounts/{account.pk}/", {"csm": other_csm.pk})
    assert response.status_code == 403
    assert response.data == {
        "detail": "Managers may only give accounts to themselves or their team."
    }
    account.refresh_from_db()
    assert account.csm_id != other_csm.pk


def test_manager_cannot_change_another_teams_account(other_manager, account):
    response = client_for(other_manager).patch(f"{API}/accounts/{account.pk}/", {"name": "X"})
    assert response.status_code == 403
    assert response.data == {"detail": "Managers may only change the accounts of their own team."}


def test_admin_moves_an_account_to_another_team(admin_api, account, other_csm):
    response = admin_api.patch(f"{API}/accounts/{account.pk}/", {"csm": other_csm.pk})
    assert response.status_code == 200
    assert response.data["csm"] == other_csm.pk


def test_open_risk_is_read_only_and_kept_on_update(admin_api, account):
    risk = open_risk_on(account)
    response = admin_api.patch(f"{API}/accounts/{account.pk}/", {"name": "Renamed", "open_risk": 1})
    assert response.status_code == 200
    assert response.data["open_risk"] == risk.pk
    assert response.data["name"] == "Renamed"


def test_a_blank_external_id_is_stored_as_none(admin_api, account):
    response = admin_api.patch(f"{API}/accounts/{account.pk}/", {"external_id": "  "})
    assert response.status_code == 200
    assert response.data["external_id"] is None
    account.refresh_from_db()
    assert account.external_id is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("arr", "-1.00", MONEY_MESSAGE),
        ("arr", "1.005", MONEY_MESSAGE),
        ("arr", "1e15", MONEY_MESSAGE),
        ("region", "MARS", "Object with code=MARS does not exist."),
        ("segment", "tiny", "Object with code=tiny does not exist."),
        ("renewal_date", "31/01/2030", None),
        ("csm", 999999, 'Invalid pk "999999" - object does not exist.'),
        ("name", "", "This field may not be blank."),
    ],
)
def test_account_field_errors(admin_api, csm, manager, field, value, message):
    body = {**full_body("accounts", csm=csm, manager=manager), field: value}
    response = admin_api.post(f"{API}/accounts/", body)
    assert response.status_code == 400
    assert list(response.data) == [field]
    if message:
        assert response.data[field] == [message]


def test_the_csm_must_be_a_csm_or_a_manager(admin_api, csm, manager, reviewer):
    body = {**full_body("accounts", csm=csm, manager=manager), "csm": reviewer.pk}
    response = admin_api.post(f"{API}/accounts/", body)
    assert response.status_code == 400
    assert response.data == {"csm": ["The account owner must be a CSM or a manager."]}


def test_external_ids_are_unique(admin_api, account, csm, manager):
    body = {**full_body("accounts", csm=csm, manager=manager), "external_id": account.external_id}
    response = admin_api.post(f"{API}/accounts/", body)
    assert response.status_code == 400
    assert "external_id" in response.data


def test_deleting_an_account_with_risk_records_is_a_conflict(admin_api, account):
    open_risk_on(account)
    response = admin_api.delete(f"{API}/accounts/{account.pk}/")
    assert response.status_code == 409
    assert Account.objects.filter(pk=account.pk).exists()


def test_an_unknown_account_is_404(admin_api):
    response = admin_api.get(f"{API}/accounts/999999/")
    assert response.status_code == 404
    assert "detail" in response.data


@pytest.fixture
def portfolio(csm, other_csm, region):
    americas = factories.RegionFactory(code="NA", timezone="America/New_York")
    smb = Segment.objects.get(code="smb")
    today = dt.date(2030, 6, 1)
    return {
        "acme": factories.AccountFactory(
            name="Acme", external_id="SF-001", csm=csm, region=region,
            arr=Decimal("5000"), renewal_date=today,
        ),
        "beta": factories.AccountFactory(
            name="Beta", external_id="SF-002", csm=csm, region=americas, segment=smb,
            arr=Decimal("90000"), renewal_date=today + dt.timedelta(days=30),
        ),
        "gamma": factories.AccountFactory(
            name="Gamma Acme", external_id="HS-777", csm=other_csm, region=region,
            arr=Decimal("20000"), renewal_date=today - dt.timedelta(days=1),
        ),
    }  # fmt: skip


def names(response) -> list[str]:
    assert response.status_code == 200, response.data
    return [row["name"] for row in response.data["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Acme", "Beta", "Gamma Acme"]),
        ("region=NA", ["Beta"]),
        ("region=EMEA", ["Acme", "Gamma Acme"]),
        ("segment=smb", ["Beta"]),
        ("segment=enterprise", ["Acme", "Gamma Acme"]),
        ("renewal_date_after=2030-06-01", ["Acme", "Beta"]),
        ("renewal_date_before=2030-06-01", ["Acme", "Gamma Acme"]),
        ("renewal_date_after=2030-06-01&renewal_date_before=2030-06-01", ["Acme"]),
        ("search=acme", ["Acme", "Gamma Acme"]),
        ("search=hs-7", ["Gamma Acme"]),
        ("ordering=-name", ["Gamma Acme", "Beta", "Acme"]),
        ("ordering=arr", ["Acme", "Gamma Acme", "Beta"]),
        ("ordering=-arr", ["Beta", "Gamma Acme", "Acme"]),
        ("ordering=renewal_date", ["Gamma Acme", "Acme", "Beta"]),
    ],
)
def test_account_filters(admin_api, portfolio, query, expected):
    assert names(admin_api.get(f"{API}/accounts/?{query}")) == expected


def test_accounts_filter_by_csm(admin_api, portfolio, csm, other_csm):
    assert names(admin_api.get(f"{API}/accounts/?csm={csm.pk}")) == ["Acme", "Beta"]
    assert names(admin_api.get(f"{API}/accounts/?csm={other_csm.pk}")) == ["Gamma Acme"]


@pytest.mark.parametrize(
    "query",
    [
        "region=MARS",
        "segment=tiny",
        "csm=999999",
        "renewal_date_after=tomorrow",
        "renewal_date_after=2030-02-01&renewal_date_before=2030-01-01",
        "ordering=csm",
    ],
)
def test_an_invalid_account_filter_is_400(admin_api, portfolio, query):
    response = admin_api.get(f"{API}/accounts/?{query}")
    assert response.status_code == 400
    assert list(response.data) == [query.split("=")[0]]


def test_pages_hold_page_size_rows_up_to_500(admin_api, csm, region):
    factories.AccountFactory.create_batch(3, csm=csm, region=region)
    response = admin_api.get(f"{API}/accounts/?page_size=2")
    assert response.data["count"] == 3
    assert len(response.data["results"]) == 2
    assert response.data["next"].endswith("page=2&page_size=2")
    assert response.data["previous"] is None
    assert admin_api.get(f"{API}/accounts/?page=9").status_code == 404


# --- query counts -------------------------------------------------------------------


def hundred_users(region) -> None:
    factories.CsmFactory.create_batch(100, region=region, manager=None)


def hundred_regions(region) -> None:
    factories.RegionFactory.create_batch(100)


def hundred_segments(region) -> None:
    for n in range(100):
        factories.SegmentFactory(code=f"segment-{n}", name=f"Segment {n}")


def hundred_accounts(region) -> None:
    accounts = factories.AccountFactory.create_batch(100, region=region)
    for account in accounts[::10]:
        factories.RiskRecordFactory(account=account)


@pytest.mark.parametrize(
    ("resource", "query", "make_rows", "queries"),
    [
        # count + page
        ("users", "", hundred_users, 2),
        # + the region and the manager the filters look up
        ("users", "region=EMEA&manager=&role=csm&search=e", hundred_users, 3),
        ("regions", "", hundred_regions, 2),
        ("segments", "", hundred_segments, 2),
        ("accounts", "", hundred_accounts, 2),
        # + region and segment looked up by code
        ("accounts", "region=EMEA&segment=enterprise&search=Customer", hundred_accounts, 4),
    ],
)
def test_list_queries_do_not_grow_with_the_page(
    admin_api, region, resource, query, make_rows, queries, django_assert_num_queries
):
    make_rows(region)
    for page_size in (1, 100):
        with django_assert_num_queries(queries):
            response = admin_api.get(f"{API}/{resource}/?page_size={page_size}&{query}")
        assert response.status_code == 200
        assert len(response.data["results"]) == page_size


def test_accounts_are_filtered_by_status(admin_api, account):
    churned = factories.AccountFactory(csm=account.csm, name="Gone Ltd")
    Account.objects.filter(pk=churned.pk).update(status="churned", churned_on="2026-01-01")

    active = admin_api.get(f"{API}/accounts/", {"status": "active"}).json()["results"]
    gone = admin_api.get(f"{API}/accounts/", {"status": "churned"}).json()["results"]

    assert churned.pk not in [row["id"] for row in active]
    assert [row["id"] for row in gone] == [churned.pk]
