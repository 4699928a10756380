"""Changes to admin data leave a trace: who changed what, when, old → new, for
people, regions, segments, root causes and accounts, from the API (session or
token) and the Django admin alike, shown in the admin."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Segment, User
from tests import factories

pytestmark = pytest.mark.django_db


def _entries(obj) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk)
        ).order_by("timestamp", "pk")
    )


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


def test_renaming_a_region_through_the_api_with_a_token_names_the_admin(admin_user, region):
    response = _token_client(admin_user).patch(
        f"/api/v1/regions/{region.pk}/", {"name": "Europe, Middle East & Africa"}, format="json"
    )

    assert response.status_code == 200
    entry = _entries(region)[-1]
    assert entry.action == LogEntry.Action.UPDATE
    assert entry.actor == admin_user
    assert entry.changes_dict == {"name": ["Europe", "Europe, Middle East & Africa"]}
    assert entry.remote_addr == "127.0.0.1"


def test_moving_an_account_through_a_session_is_traced(admin_user, account, other_csm):
    client = APIClient()
    client.force_login(admin_user)

    client.patch(f"/api/v1/accounts/{account.pk}/", {"csm": other_csm.pk}, format="json")

    entry = _entries(account)[-1]
    assert entry.actor == admin_user
    assert entry.changes_dict["csm"] == [str(account.csm_id), str(other_csm.pk)]


def test_root_cause_changes_are_traced(admin_user, low_usage):
    _token_client(admin_user).patch(
        f"/api/v1/root-causes/{low_usage.pk}/", {"active": False}, format="json"
    )

    entry = _entries(low_usage)[-1]
    assert (entry.actor, entry.changes_dict) == (admin_user, {"active": ["True", "False"]})


def test_new_people_and_segments_are_traced_without_their_password(admin_user):
    client = _token_client(admin_user)
    client.post("/api/v1/segments/", {"code": "startup", "name": "Start-up"}, format="json")
    client.post(
        "/api/v1/users/",
        {"username": "newbie", "role": "reviewer", "password": "a-Long-pass-77"},
        format="json",
    )

    [created] = _entries(Segment.objects.get(code="startup"))
    assert (created.action, created.actor) == (LogEntry.Action.CREATE, admin_user)
    [person] = _entries(User.objects.get(username="newbie"))
    assert "password" not in person.changes_dict
    assert person.actor == admin_user


def test_changes_in_the_django_admin_are_traced_and_shown_there(client, region):
    superuser = factories.AdminFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    change = reverse("admin:accounts_region_change", args=[region.pk])
    page = client.get(change).context["adminform"].form.initial
    client.post(change, {**page, "name": "Europe (all)", "review_time": "15:00"})

    entry = _entries(region)[-1]
    assert (entry.actor, entry.changes_dict["name"]) == (superuser, ["Europe", "Europe (all)"])
    listing = client.get(reverse("admin:auditlog_logentry_changelist"))
    assert listing.status_code == 200
    assert (
        "Europe (all)"
        in client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk])).content.decode()
    )


def test_reads_leave_no_trace(admin_user, region):
    before = LogEntry.objects.count()
    _token_client(admin_user).get(f"/api/v1/regions/{region.pk}/")
    assert LogEntry.objects.count() == before


def test_the_address_on_the_trail_is_never_taken_from_forwarded_headers(admin_user, region):
    _token_client(admin_user).patch(
        f"/api/v1/regions/{region.pk}/",
        {"name": "Somewhere"},
        format="json",
        HTTP_X_FORWARDED_FOR="6.6.6.6",
        HTTP_X_FORWARDED_PORT="4444",
    )

    entry = _entries(region)[-1]
    assert (entry.remote_addr, entry.remote_port) == ("127.0.0.1", None)


def test_a_new_person_is_traced_with_their_own_fields_only(admin_user):
    _token_client(admin_user).post(
        "/api/v1/users/",
        {"username": "fresh", "role": "csm", "password": "a-Long-pass-77"},
        format="json",
    )

    [entry] = _entries(User.objects.get(username="fresh"))
    assert set(entry.changes_dict) <= {
        "username",
        "email",
        "first_name",
        "last_name",
        "role",
        "region",
        "manager",
        "department",
        "is_active",
        "is_staff",
        "is_superuser",
    }
    assert "username" in entry.changes_dict
