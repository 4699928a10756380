"""The root-cause service: the rules the API and the admin share."""

from __future__ import annotations

import pytest

from core.exceptions import Conflict, InvalidInput, NotAllowed
from risks import services
from risks.models import RootCause
from tests import factories

pytestmark = pytest.mark.django_db

NEW = {
    "code": "pricing",
    "name": "Pricing",
    "category": "commercial",
    "description": "The price is the reason they leave.",
}


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer"])
def test_only_admins_write_causes(role, low_usage):
    user = factories.UserFactory(username=f"someone-{role}", role=role)

    with pytest.raises(NotAllowed):
        services.root_cause_create(user=user, **NEW)
    with pytest.raises(NotAllowed):
        services.root_cause_update(user=user, cause=low_usage, name="Renamed")
    with pytest.raises(NotAllowed):
        services.root_cause_delete(user=user, cause=low_usage)
    low_usage.refresh_from_db()
    assert low_usage.name == "Low usage"
    assert not RootCause.objects.filter(code="pricing").exists()


def test_admin_creates_a_cause_with_trimmed_fields(admin_user):
    cause = services.root_cause_create(
        user=admin_user, **{**NEW, "name": "  Pricing  ", "code": " pricing "}
    )
    assert (cause.code, cause.name, cause.active) == ("pricing", "Pricing", True)


def test_every_field_error_is_reported_at_once(admin_user):
    with pytest.raises(InvalidInput) as refused:
        services.root_cause_create(
            user=admin_user, code="no spaces", name="", category="", description=" "
        )
    assert set(refused.value.errors) == {"code", "name", "category", "description"}


def test_code_changes_while_unused_and_is_fixed_once_used(admin_user, account):
    cause = services.root_cause_create(user=admin_user, **NEW)
    cause = services.root_cause_update(user=admin_user, cause=cause, code="price")
    assert cause.code == "price"

    factories.RiskRecordFactory(account=account, secondary_cause=cause)

    with pytest.raises(Conflict) as refused:
        services.root_cause_update(user=admin_user, cause=cause, code="pricing")
    assert refused.value.message == services.root_causes.CODE_IN_USE
    cause = services.root_cause_update(user=admin_user, cause=cause, name="Price", active=False)
    assert (cause.code, cause.name, cause.active) == ("price", "Price", False)


def test_causes_are_never_deleted(admin_user):
    cause = services.root_cause_create(user=admin_user, **NEW)

    with pytest.raises(Conflict) as refused:
        services.root_cause_delete(user=admin_user, cause=cause)

    assert refused.value.message == services.root_causes.NEVER_DELETED
    assert RootCause.objects.filter(pk=cause.pk).exists()
