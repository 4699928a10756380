"""The Django admin: every model is listed with pinned query counts, and every
workflow change made in it goes through risks.services."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, Role, Segment, User
from risks import services
from risks.models import (
    Escalation,
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    RootCause,
    TimelineEvent,
    TimelineKind,
)
from tests import factories

pytestmark = pytest.mark.django_db


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
def superuser() -> User:
    return factories.AdminFactory(username="opsadmin", is_superuser=True)


@pytest.fixture
def ops_client(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


def open_risk(user: User, account: Account, cause: RootCause, **kwargs: Any) -> RiskRecord:
    kwargs.setdefault("summary", "Usage halved since March.")
    kwargs.setdefault("next_steps", "Executive sponsor call next week.")
    return services.risk_open(user=user, account=account, primary_cause=cause, **kwargs)


def kinds(risk: RiskRecord) -> list[str]:
    return list(risk.events.order_by("at", "id").values_list("kind", flat=True))


def change_url(risk: RiskRecord) -> str:
    return reverse("admin:risks_riskrecord_change", args=[risk.pk])


def workflow_url(risk: RiskRecord, page: str) -> str:
    return reverse(f"admin:risks_riskrecord_{page}", args=[risk.pk])


def change_form_data(response: Any, **overrides: Any) -> dict[str, Any]:
    """What the browser would post back from a rendered admin change page: the
    form's current values, the inlines' management forms, and ``overrides``."""
    data: dict[str, Any] = {}
    all_forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        all_forms.append(inline.formset.management_form)
        all_forms.extend(inline.formset.forms)
    for form in all_forms:
        for bound_field in form:
            value = bound_field.value()
            data[bound_field.html_name] = "" if value is None else value
    data.update(overrides)
    return data


def form_errors(response: Any, form_key: str = "form") -> dict[str, list[str]]:
    form = response.context[form_key]
    if form_key == "adminform":
        form = form.form
    return form.errors


def changelist_action(
    client: Client,
    action: str,
    escalations: list[Escalation],
    *,
    follow: bool = False,
    **extra: Any,
) -> Any:
    return client.post(
        reverse("admin:risks_escalation_changelist"),
        {"action": action, "_selected_action": [e.pk for e in escalations], **extra},
        follow=follow,
    )


# --- every changelist renders with a constant number of queries -------------------


def _regions(n: int) -> None:
    factories.RegionFactory.create_batch(n)


def _segments(n: int) -> None:
    start = Segment.objects.count()
    for i in range(start, start + n):
        factories.SegmentFactory(code=f"segment-{i}", name=f"Segment {i}")


def _users(n: int) -> None:
    factories.CsmFactory.create_batch(n)


def _accounts(n: int) -> None:
    factories.AccountFactory.create_batch(n)


def _renewals(n: int) -> None:
    for _ in range(n):
        factories.RenewalFactory(account=factories.AccountFactory())


def _causes(n: int) -> None:
    factories.RootCauseFactory.create_batch(n)


def _risks(n: int) -> None:
    factories.RiskRecordFactory.create_batch(n)


def _escalations(n: int) -> None:
    decider = factories.ManagerFactory()
    for i in range(n):
        if i % 2:
            factories.EscalationFactory(
                status=EscalationStatus.REJECTED,
                decided_by=decider,
                decided_at=timezone.now(),
                decision_note="Not yet.",
            )
        else:
            factories.EscalationFactory()


def _events(n: int) -> None:
    risk = factories.RiskRecordFactory()
    for i in range(n):
        TimelineEvent.objects.create(
            risk=factories.RiskRecordFactory() if i % 2 else risk,
            kind=TimelineKind.NOTE,
            actor=risk.opened_by,
            text="Called the sponsor.",
        )


def _rules(n: int) -> None:
    from tests.rules.conftest import rule

    for _ in range(n):
        rule({"type": "band_is", "band": "red"})


def _matches(n: int) -> None:
    from rules.models import RuleMatch
    from tests.rules.conftest import rule

    for i in range(n):
        RuleMatch.objects.create(
            rule=rule({"type": "band_is", "band": "red"}),
            account=factories.AccountFactory(),
            matched_at=timezone.now(),
            as_of=timezone.localdate(),
            evidence=[{"type": "band_is", "band": "red", "score": i}],
            risk=factories.RiskRecordFactory() if i % 2 else None,
        )


CHANGELISTS: list[tuple[str, Callable[[int], None], int]] = [
    ("accounts_region", _regions, 5),
    ("accounts_segment", _segments, 5),
    ("accounts_user", _users, 6),
    ("accounts_account", _accounts, 9),
    ("accounts_renewal", _renewals, 9),
    ("risks_rootcause", _causes, 6),
    ("risks_riskrecord", _risks, 8),
    ("risks_escalation", _escalations, 6),
    ("risks_timelineevent", _events, 5),
    ("rules_rule", _rules, 7),
    ("rules_rulematch", _matches, 9),
]


@pytest.mark.parametrize(("model", "make_rows", "max_queries"), CHANGELISTS)
def test_every_admin_changelist_renders_with_constant_queries(
    ops_client, django_assert_max_num_queries, model, make_rows, max_queries
):
    url = reverse(f"admin:{model}_changelist")
    make_rows(2)
    ops_client.get(url)  # warm up the session and caches; measure steady state
    with django_assert_max_num_queries(max_queries) as few:
        assert ops_client.get(url).status_code == 200
    make_rows(18)
    with django_assert_max_num_queries(max_queries) as many:
        response = ops_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 20
    assert len(many) == len(few)


def test_risk_change_page_queries_do_not_grow_with_its_timeline(
    ops_client, django_assert_max_num_queries, superuser, account, low_usage
):
    risk = open_risk(superuser, account, low_usage)
    services.risk_add_note(user=superuser, risk=risk, text="First call.")
    ops_client.get(change_url(risk))  # warm up the session and caches
    with django_assert_max_num_queries(11) as few:
        assert ops_client.get(change_url(risk)).status_code == 200
    for i in range(18):
        services.risk_add_note(user=superuser, risk=risk, text=f"Call {i}.")
    services.escalation_request(user=superuser, risk=risk, reason="Needs the manager.")
    with django_assert_max_num_queries(11) as many:
        response = ops_client.get(change_url(risk))
    assert b"Call 17." in response.content
    assert len(many) == len(few)


@pytest.mark.parametrize(
    "model",
    [
        "accounts_region",
        "accounts_segment",
        "accounts_user",
        "accounts_account",
        "risks_rootcause",
        "risks_riskrecord",
    ],
)
def test_every_editable_admin_add_page_renders(ops_client, model):
    assert ops_client.get(reverse(f"admin:{model}_add")).status_code == 200


# --- accounts ---------------------------------------------------------------------------


def test_user_is_added_with_role_region_and_manager(ops_client, manager, region):
    response = ops_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "nina",
            "usable_password": "true",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
            "first_name": "Nina",
            "last_name": "Nowak",
            "email": "nina@example.com",
            "role": Role.CSM,
            "region": region.pk,
            "manager": manager.pk,
            "department": "",
        },
    )

    assert response.status_code == 302
    nina = User.objects.get(username="nina")
    assert (nina.role, nina.region, nina.manager) == (Role.CSM, region, manager)
    assert nina.check_password("a-long-pass-phrase-42")


def test_user_manager_must_have_the_manager_role(ops_client, csm, other_csm):
    response = ops_client.get(reverse("admin:accounts_user_change", args=[csm.pk]))
    data = change_form_data(response, manager=other_csm.pk)
    data.pop("password", None)

    response = ops_client.post(reverse("admin:accounts_user_change", args=[csm.pk]), data)

    assert response.status_code == 200
    assert "manager" in form_errors(response, "adminform")
    csm.refresh_from_db()
    assert csm.manager.role == Role.MANAGER


def test_regions_and_accounts_are_listed_and_searchable(ops_client, account):
    response = ops_client.get(reverse("admin:accounts_region_changelist"))
    assert b"Europe/Berlin" in response.content
    response = ops_client.get(reverse("admin:accounts_account_changelist"), {"q": account.name})
    assert list(response.context["cl"].result_list) == [account]


def test_account_change_page_renders_with_csm_autocomplete(ops_client, account):
    response = ops_client.get(reverse("admin:accounts_account_change", args=[account.pk]))
    assert response.status_code == 200
    assert b"admin-autocomplete" in response.content


# --- root causes ----------------------------------------------------------------------


def test_root_causes_are_deactivated_and_activated_by_actions(ops_client, low_usage, defects):
    url = reverse("admin:risks_rootcause_changelist")

    response = ops_client.post(
        url, {"action": "deactivate", "_selected_action": [low_usage.pk, defects.pk]}
    )
    assert response.status_code == 302
    assert not RootCause.objects.filter(pk__in=[low_usage.pk, defects.pk], active=True).exists()

    ops_client.post(url, {"action": "activate", "_selected_action": [low_usage.pk]})
    low_usage.refresh_from_db()
    defects.refresh_from_db()
    assert (low_usage.active, defects.active) == (True, False)


def test_root_causes_cannot_be_deleted_in_the_admin(ops_client, low_usage):
    url = reverse("admin:risks_rootcause_delete", args=[low_usage.pk])
    assert ops_client.get(url).status_code == 403
    assert ops_client.post(url, {"post": "yes"}).status_code == 403
    assert RootCause.objects.filter(pk=low_usage.pk).exists()


def test_root_cause_code_is_fixed_once_a_record_uses_it(ops_client, low_usage, account):
    change = reverse("admin:risks_rootcause_change", args=[low_usage.pk])
    assert "code" in ops_client.get(change).context["adminform"].form.fields

    factories.RiskRecordFactory(account=account, primary_cause=low_usage)

    assert "code" not in ops_client.get(change).context["adminform"].form.fields


def test_root_cause_added_and_changed_in_the_admin_goes_through_the_service(ops_client):
    fields = {
        "code": "pricing",
        "name": "Pricing",
        "category": "commercial",
        "description": "The price is the reason.",
        "active": "on",
    }
    assert ops_client.post(reverse("admin:risks_rootcause_add"), fields).status_code == 302
    cause = RootCause.objects.get(code="pricing")

    response = ops_client.post(
        reverse("admin:risks_rootcause_change", args=[cause.pk]), {**fields, "code": "not a slug"}
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["code"] == ["Enter a code of at most 64 letters, digits, hyphens or underscores."]
    cause.refresh_from_db()
    assert cause.code == "pricing"


def test_admin_and_api_give_the_same_answer_for_a_taken_code(ops_client, superuser, low_usage):
    fields = {"code": "low-usage", "name": "Dup", "category": "adoption", "description": "x"}
    response = ops_client.post(reverse("admin:risks_rootcause_add"), fields)
    admin_errors = response.context["adminform"].form.errors["code"]

    api = APIClient()
    api.force_authenticate(superuser)
    api_errors = api.post("/api/v1/root-causes/", fields).json()["code"]

    assert admin_errors == api_errors == ["Another root cause has this code."]


# --- filing and editing a risk record ------------------------------------------------


def test_adding_risk_record_opens_it_through_the_service(
    ops_client, superuser, account, low_usage, defects
):
    response = ops_client.post(
        reverse("admin:risks_riskrecord_add"),
        {
            "account": account.pk,
            "primary_cause": low_usage.pk,
            "secondary_cause": defects.pk,
            "summary": "Usage halved since the champion left.",
            "next_steps": "Exec sponsor call.",
            "arr_at_risk": "",
        },
    )

    assert response.status_code == 302
    risk = RiskRecord.objects.get(account=account)
    assert (risk.status, risk.tier, risk.max_tier, risk.version) == (RiskStatus.OPEN, 1, 1, 1)
    assert risk.opened_by == superuser
    assert risk.arr_at_risk == account.arr
    assert kinds(risk) == [TimelineKind.OPENED]
    assert response["Location"] == reverse("admin:risks_riskrecord_changelist")


def test_adding_second_open_record_on_account_shows_form_error_and_creates_nothing(
    ops_client, csm, account, low_usage
):
    existing = open_risk(csm, account, low_usage)

    response = ops_client.post(
        reverse("admin:risks_riskrecord_add"),
        {
            "account": account.pk,
            "primary_cause": low_usage.pk,
            "summary": "Again.",
            "next_steps": "Again.",
        },
    )

    assert response.status_code == 200
    errors = form_errors(response, "adminform")["__all__"]
    assert "already has an open risk record" in errors[0]
    assert f'href="{change_url(existing)}"' in response.content.decode()
    assert RiskRecord.objects.filter(account=account).count() == 1
    assert TimelineEvent.objects.count() == 1


def test_adding_with_secondary_equal_to_primary_shows_error_on_secondary_cause(
    ops_client, account, low_usage
):
    response = ops_client.post(
        reverse("admin:risks_riskrecord_add"),
        {
            "account": account.pk,
            "primary_cause": low_usage.pk,
            "secondary_cause": low_usage.pk,
            "summary": "Usage halved.",
            "next_steps": "Call.",
        },
    )

    assert response.status_code == 200
    assert form_errors(response, "adminform")["secondary_cause"] == [
        "The secondary cause must differ from the primary cause."
    ]
    assert not RiskRecord.objects.exists()


def test_adding_with_an_inactive_cause_is_refused_by_the_service(ops_client, account, low_usage):
    low_usage.active = False
    low_usage.save()

    response = ops_client.post(
        reverse("admin:risks_riskrecord_add"),
        {
            "account": account.pk,
            "primary_cause": low_usage.pk,
            "summary": "Usage halved.",
            "next_steps": "Call.",
        },
    )

    assert response.status_code == 200
    assert "no longer in use" in form_errors(response, "adminform")["primary_cause"][0]
    assert not RiskRecord.objects.exists()


def test_staff_user_who_may_not_file_on_the_account_sees_the_refusal(
    client, other_csm, account, low_usage
):
    other_csm.is_staff = True
    other_csm.save()
    other_csm.user_permissions.set(
        Permission.objects.filter(
            codename__in=["add_riskrecord", "change_riskrecord", "view_riskrecord", "view_account"]
        )
    )
    client.force_login(other_csm)

    response = client.post(
        reverse("admin:risks_riskrecord_add"),
        {
            "account": account.pk,
            "primary_cause": low_usage.pk,
            "summary": "Not my account.",
            "next_steps": "None.",
        },
    )

    assert response.status_code == 200
    assert form_errors(response, "adminform")["__all__"] == [
        "You can file risk records only on accounts you own."
    ]
    assert not RiskRecord.objects.exists()


def test_editing_through_the_admin_goes_through_the_service(
    ops_client, csm, account, low_usage, defects
):
    risk = open_risk(csm, account, low_usage)
    response = ops_client.get(change_url(risk))

    response = ops_client.post(
        change_url(risk),
        change_form_data(response, secondary_cause=defects.pk, next_steps="Training plan."),
    )

    assert response.status_code == 302
    risk.refresh_from_db()
    assert (risk.secondary_cause, risk.next_steps, risk.version) == (defects, "Training plan.", 2)
    assert kinds(risk) == [TimelineKind.OPENED, TimelineKind.EDITED]
    edited = risk.events.get(kind=TimelineKind.EDITED)
    assert set(edited.data["changed"]) == {"secondary_cause", "next_steps"}


def test_editing_with_a_stale_version_shows_an_error_and_changes_nothing(
    ops_client, csm, account, low_usage
):
    risk = open_risk(csm, account, low_usage)
    response = ops_client.get(change_url(risk))
    data = change_form_data(response, summary="My edit.")
    services.risk_edit(user=csm, risk=risk, version=1, summary="Someone else's edit.")

    response = ops_client.post(change_url(risk), data)

    assert response.status_code == 200
    assert "changed by someone else" in form_errors(response, "adminform")["__all__"][0]
    risk.refresh_from_db()
    assert (risk.summary, risk.version) == ("Someone else's edit.", 2)
    assert kinds(risk) == [TimelineKind.OPENED, TimelineKind.EDITED]


def test_an_edit_is_undone_when_the_page_is_shown_again_for_another_reason(
    ops_client, csm, account, low_usage
):
    risk = open_risk(csm, account, low_usage)
    response = ops_client.get(change_url(risk))
    data = change_form_data(response, summary="My edit.")
    # A broken inline management form fails after the form (and the service) ran.
    data = {key: value for key, value in data.items() if not key.startswith("events-")}

    response = ops_client.post(change_url(risk), data)

    assert response.status_code == 200
    risk.refresh_from_db()
    assert (risk.summary, risk.version) == ("Usage halved since March.", 1)
    assert kinds(risk) == [TimelineKind.OPENED]


def test_status_tier_and_version_are_read_only_on_the_change_form(
    ops_client, csm, account, low_usage
):
    risk = open_risk(csm, account, low_usage)
    response = ops_client.get(change_url(risk))
    data = change_form_data(response, status="churned", tier="3", version="9")

    ops_client.post(change_url(risk), data)

    risk.refresh_from_db()
    assert (risk.status, risk.tier, risk.version) == (RiskStatus.OPEN, 1, 1)
    fields = response.context["adminform"].form.fields
    assert not {"status", "tier", "max_tier", "version", "account"} & set(fields)


def test_a_closed_record_is_view_only_in_the_admin(ops_client, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.risk_close(user=csm, risk=risk, outcome="withdrawn", note="Raised in error.")

    response = ops_client.get(change_url(risk))

    assert response.status_code == 200
    assert response.context["title"].startswith("View")
    assert workflow_url(risk, "close").encode() not in response.content
    assert ops_client.post(change_url(risk), {"summary": "x"}).status_code == 403


def test_the_admin_cannot_delete_risk_records(ops_client, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    url = reverse("admin:risks_riskrecord_delete", args=[risk.pk])

    assert ops_client.get(url).status_code == 403
    assert ops_client.post(url, {"post": "yes"}).status_code == 403
    response = ops_client.get(reverse("admin:risks_riskrecord_changelist"))
    assert response.context["action_form"] is None
    ops_client.post(
        reverse("admin:risks_riskrecord_changelist"),
        {"action": "delete_selected", "_selected_action": [risk.pk], "index": 0, "post": "yes"},
    )
    assert RiskRecord.objects.filter(pk=risk.pk).exists()


# --- workflow pages of a risk record ---------------------------------------------------


def test_change_page_links_to_the_workflow_pages(ops_client, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    content = ops_client.get(change_url(risk)).content.decode()
    for page in ("note", "escalate", "close"):
        assert workflow_url(risk, page) in content
    # At tier 1 there is nothing to de-escalate to.
    assert workflow_url(risk, "deescalate") not in content


@pytest.mark.parametrize("page", ["note", "escalate", "deescalate", "close"])
def test_every_workflow_page_renders(ops_client, csm, account, low_usage, page):
    risk = open_risk(csm, account, low_usage)
    response = ops_client.get(workflow_url(risk, page))
    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content


def test_closing_through_the_admin_writes_status_and_closed_event(
    ops_client, superuser, csm, account, low_usage
):
    risk = open_risk(csm, account, low_usage)

    response = ops_client.post(
        workflow_url(risk, "close"),
        {
            "outcome": "saved",
            "note": "Renewed after the exec call.",
            "arr_retained": "100000",
            "version": 1,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(risk)
    risk.refresh_from_db()
    assert risk.status == RiskStatus.SAVED
    assert risk.arr_retained == Decimal("100000.00")
    assert risk.closed_by == superuser
    assert kinds(risk)[-1] == TimelineKind.CLOSED


def test_closing_with_more_retained_than_at_risk_shows_the_error_on_the_field(
    ops_client, csm, account, low_usage
):
    risk = open_risk(csm, account, low_usage, arr_at_risk="50000")

    response = ops_client.post(
        workflow_url(risk, "close"),
        {"outcome": "saved", "note": "Renewed.", "arr_retained": "60000", "version": 1},
    )

    assert response.status_code == 200
    assert "Cannot exceed the ARR at risk" in form_errors(response)["arr_retained"][0]
    risk.refresh_from_db()
    assert risk.status == RiskStatus.OPEN


def test_closing_with_a_stale_version_is_refused(ops_client, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.risk_edit(user=csm, risk=risk, version=1, summary="Changed meanwhile.")

    response = ops_client.post(
        workflow_url(risk, "close"), {"outcome": "churned", "note": "Lost.", "version": 1}
    )

    assert response.status_code == 200
    assert "changed by someone else" in form_errors(response)["__all__"][0]
    risk.refresh_from_db()
    assert risk.status == RiskStatus.OPEN


def test_staff_user_who_may_not_close_the_record_sees_the_refusal(
    client, other_csm, csm, account, low_usage
):
    risk = open_risk(csm, account, low_usage)
    other_csm.is_staff = True
    other_csm.save()
    other_csm.user_permissions.set(
        Permission.objects.filter(codename__in=["change_riskrecord", "view_riskrecord"])
    )
    client.force_login(other_csm)

    response = client.post(
        workflow_url(risk, "close"), {"outcome": "churned", "note": "Lost.", "version": 1}
    )

    assert response.status_code == 200
    assert form_errors(response)["__all__"] == [
        "Only the account's CSM, their manager or an admin can close this record."
    ]
    risk.refresh_from_db()
    assert risk.status == RiskStatus.OPEN


def test_workflow_pages_need_admin_access_to_change_risk_records(client, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    csm.is_staff = True
    csm.save()
    csm.user_permissions.set(Permission.objects.filter(codename="view_riskrecord"))
    client.force_login(csm)

    assert client.get(workflow_url(risk, "note")).status_code == 403
    assert client.post(workflow_url(risk, "note"), {"text": "Hi."}).status_code == 403
    assert kinds(risk) == [TimelineKind.OPENED]


def test_adding_a_note_writes_a_timeline_event(ops_client, superuser, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)

    response = ops_client.post(workflow_url(risk, "note"), {"text": "Sponsor call booked."})

    assert response.status_code == 302
    note = risk.events.get(kind=TimelineKind.NOTE)
    assert (note.text, note.actor) == ("Sponsor call booked.", superuser)


def test_an_empty_note_is_refused_on_the_field(ops_client, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)

    response = ops_client.post(workflow_url(risk, "note"), {"text": "  "})

    assert response.status_code == 200
    assert form_errors(response)["text"] == ["This field is required."]
    assert kinds(risk) == [TimelineKind.OPENED]


def test_an_admins_escalation_request_is_approved_at_once(ops_client, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)

    response = ops_client.post(workflow_url(risk, "escalate"), {"reason": "Exec attention."})

    assert response.status_code == 302
    risk.refresh_from_db()
    assert (risk.tier, risk.max_tier) == (2, 2)
    assert risk.escalations.get().status == EscalationStatus.APPROVED


def test_escalating_a_record_with_a_pending_escalation_shows_the_conflict(
    ops_client, csm, account, low_usage
):
    risk = open_risk(csm, account, low_usage)
    services.escalation_request(user=csm, risk=risk, reason="Need help.")

    response = ops_client.post(workflow_url(risk, "escalate"), {"reason": "Again."})

    assert response.status_code == 200
    assert "already waiting for a decision" in form_errors(response)["__all__"][0]
    assert risk.escalations.count() == 1


def test_deescalating_moves_the_tier_down_with_a_note(ops_client, superuser, account, low_usage):
    risk = open_risk(superuser, account, low_usage)
    services.escalation_request(user=superuser, risk=risk, reason="Manager needed.")

    response = ops_client.post(
        workflow_url(risk, "deescalate"), {"to_tier": 1, "note": "Stable again.", "version": 2}
    )

    assert response.status_code == 302
    risk.refresh_from_db()
    assert (risk.tier, risk.max_tier) == (1, 2)
    assert kinds(risk)[-1] == TimelineKind.DEESCALATED


def test_deescalating_to_the_same_tier_shows_the_error_on_the_field(
    ops_client, csm, account, low_usage
):
    risk = open_risk(csm, account, low_usage)

    response = ops_client.post(
        workflow_url(risk, "deescalate"), {"to_tier": 1, "note": "Hm.", "version": 1}
    )

    assert response.status_code == 200
    assert "Choose a lower tier" in form_errors(response)["to_tier"][0]


# --- escalation decisions ---------------------------------------------------------------


@pytest.fixture
def pending(csm, account, low_usage) -> Escalation:
    risk = open_risk(csm, account, low_usage)
    return services.escalation_request(user=csm, risk=risk, reason="Need my manager.")


def test_approving_an_escalation_via_the_action_moves_the_tier_and_records_it(
    ops_client, superuser, pending
):
    response = changelist_action(ops_client, "approve_selected", [pending], index=0)

    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == (EscalationStatus.APPROVED, superuser)
    risk = pending.risk
    risk.refresh_from_db()
    assert (risk.tier, risk.max_tier) == (2, 2)
    assert kinds(risk)[-1] == TimelineKind.ESCALATION_APPROVED


def test_approve_action_reports_each_refusal_and_approves_the_rest(
    ops_client, superuser, other_csm, pending, low_usage
):
    other = open_risk(other_csm, factories.AccountFactory(csm=other_csm), low_usage)
    decided = services.escalation_request(user=other_csm, risk=other, reason="Help.")
    services.escalation_reject(user=superuser, escalation=decided, note="Not yet.")

    response = changelist_action(
        ops_client, "approve_selected", [pending, decided], index=0, follow=True
    )

    messages = [str(m) for m in response.context["messages"]]
    assert any("already rejected" in m for m in messages)
    assert "Approved 1 escalation(s)." in messages
    pending.refresh_from_db()
    decided.refresh_from_db()
    assert (pending.status, decided.status) == (
        EscalationStatus.APPROVED,
        EscalationStatus.REJECTED,
    )


def test_reject_action_asks_for_a_note_first(ops_client, pending):
    response = changelist_action(ops_client, "reject_selected", [pending], index=0)

    assert response.status_code == 200
    assert b'name="note"' in response.content
    assert b'name="apply"' in response.content
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.PENDING


def test_rejecting_via_the_action_without_a_note_shows_an_error_and_changes_nothing(
    ops_client, pending
):
    response = changelist_action(ops_client, "reject_selected", [pending], apply="yes", note=" ")

    assert response.status_code == 200
    assert form_errors(response)["note"] == ["Say why the escalations are rejected."]
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.PENDING
    assert not TimelineEvent.objects.filter(kind=TimelineKind.ESCALATION_REJECTED).exists()


def test_rejecting_via_the_action_with_a_note_rejects_and_keeps_the_tier(
    ops_client, superuser, pending
):
    response = changelist_action(
        ops_client, "reject_selected", [pending], apply="yes", note="Handle it at tier 1."
    )

    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by, pending.decision_note) == (
        EscalationStatus.REJECTED,
        superuser,
        "Handle it at tier 1.",
    )
    risk = pending.risk
    risk.refresh_from_db()
    assert risk.tier == 1
    assert kinds(risk)[-1] == TimelineKind.ESCALATION_REJECTED


def test_a_manager_with_admin_access_cannot_decide_another_teams_escalation(
    client, other_manager, pending
):
    other_manager.is_staff = True
    other_manager.save()
    other_manager.user_permissions.set(
        Permission.objects.filter(codename__in=["view_escalation", "change_escalation"])
    )
    client.force_login(other_manager)

    response = changelist_action(client, "approve_selected", [pending], index=0, follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert any("Only the manager of the account's CSM" in m for m in messages)
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.PENDING


def test_escalations_cannot_be_added_changed_or_deleted_in_the_admin(ops_client, pending):
    change = reverse("admin:risks_escalation_change", args=[pending.pk])

    assert ops_client.get(reverse("admin:risks_escalation_add")).status_code == 403
    assert ops_client.get(change).status_code == 200
    assert ops_client.post(change, {"status": "approved"}).status_code == 403
    delete = reverse("admin:risks_escalation_delete", args=[pending.pk])
    assert ops_client.post(delete, {"post": "yes"}).status_code == 403
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.PENDING


# --- timeline --------------------------------------------------------------------------


def test_timeline_events_cannot_be_added_changed_or_deleted_through_the_admin(
    ops_client, csm, account, low_usage
):
    risk = open_risk(csm, account, low_usage)
    event = risk.events.get()
    change = reverse("admin:risks_timelineevent_change", args=[event.pk])
    delete = reverse("admin:risks_timelineevent_delete", args=[event.pk])

    assert ops_client.get(change).status_code == 200
    assert ops_client.post(change, {"text": "Rewritten."}).status_code == 403
    assert ops_client.post(delete, {"post": "yes"}).status_code == 403
    assert ops_client.get(reverse("admin:risks_timelineevent_add")).status_code == 403
    event.refresh_from_db()
    assert event.text == "Usage halved since March."


def test_the_change_page_says_why_a_used_causes_code_is_read_only(ops_client, low_usage, account):
    factories.RiskRecordFactory(account=account, primary_cause=low_usage)

    html = ops_client.get(reverse("admin:risks_rootcause_change", args=[low_usage.pk])).content

    assert "Fixed once a risk record uses the cause" in html.decode()
