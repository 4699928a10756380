"""The playbook admin: a playbook and its steps are written together through
services.playbook_save, its page previews the tasks a new record would get,
only admins change it; tasks are listed read-only."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Segment, User
from core import business_days
from risks import services
from risks.models import Playbook, PlaybookStep, RootCause, StepOwner, Task, TaskSource
from tests import factories

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
ADD_URL = "admin:risks_playbook_add"


@pytest.fixture
def superuser() -> User:
    return factories.AdminFactory(username="opsadmin", is_superuser=True)


@pytest.fixture
def ops_client(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


@pytest.fixture
def lost_champion() -> RootCause:
    return RootCause.objects.get(code="lost-champion")


@pytest.fixture
def enterprise() -> Segment:
    return Segment.objects.get(code="enterprise")


@pytest.fixture
def strategic() -> Segment:
    return Segment.objects.get(code="strategic")


def change_url(playbook: Playbook) -> str:
    return reverse("admin:risks_playbook_change", args=[playbook.pk])


def add_data(cause: RootCause, steps: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """What the add page posts: the playbook's fields and the steps' inline
    (one blank extra row, as the page shows it)."""
    data: dict[str, Any] = {
        "name": "Lost sponsor",
        "root_cause": cause.pk,
        "segment": "",
        "description": "When the champion or sponsor leaves.",
        "active": "on",
        "steps-TOTAL_FORMS": len(steps) + 1,
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 20,
    }
    for index, step in enumerate([*steps, {"owner": "csm"}]):
        for field in ("position", "title", "description", "owner", "due_days"):
            data[f"steps-{index}-{field}"] = step.get(field, "")
    data.update(fields)
    return data


def change_form_data(response: Any, **overrides: Any) -> dict[str, Any]:
    """What the browser posts back from a rendered change page, plus ``overrides``."""
    data: dict[str, Any] = {}
    all_forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        all_forms.append(inline.formset.management_form)
        all_forms.extend(inline.formset.forms)
    for form in all_forms:
        for bound_field in form:
            value = bound_field.value()
            if value is None or value is False:
                continue  # an empty field or an unticked box is not posted
            data[bound_field.html_name] = "on" if value is True else value
    data.update(overrides)
    return data


def make_playbook(cause: RootCause, segment: Segment | None = None, **kwargs: Any) -> Playbook:
    kwargs.setdefault("name", f"Play for {cause.code}")
    kwargs.setdefault(
        "steps",
        [
            {"title": "Map the new stakeholders", "owner": StepOwner.CSM, "due_days": 5},
            {"title": "Executive sponsor call", "owner": StepOwner.MANAGER, "due_days": 10},
            {"title": "Product roadmap call", "owner": StepOwner.PRODUCT, "due_days": 1},
        ],
    )
    admin = User.objects.filter(is_superuser=True).first() or factories.AdminFactory(
        username="author", is_superuser=True
    )
    return services.playbook_save(user=admin, root_cause=cause, segment=segment, **kwargs)


def steps_of(playbook: Playbook) -> list[tuple[int, str, str, int]]:
    return list(
        playbook.steps.order_by("position").values_list("position", "title", "owner", "due_days")
    )


# --- writing a playbook ----------------------------------------------------------------


def test_an_admin_adds_a_playbook_with_steps_in_the_order_of_their_positions(
    ops_client, lost_champion, csm, account
):
    steps = [
        {"position": 3, "title": "Value review", "owner": "csm", "due_days": 20},
        {"position": 1, "title": "Map the new stakeholders", "owner": "csm", "due_days": 5},
        {"position": 2, "title": "Executive sponsor call", "owner": "manager", "due_days": 10},
    ]

    response = ops_client.post(reverse(ADD_URL), add_data(lost_champion, steps))

    assert response.status_code == 302
    playbook = Playbook.objects.get()
    assert (playbook.name, playbook.root_cause, playbook.segment, playbook.active) == (
        "Lost sponsor",
        lost_champion,
        None,
        True,
    )
    assert steps_of(playbook) == [
        (1, "Map the new stakeholders", "csm", 5),
        (2, "Executive sponsor call", "manager", 10),
        (3, "Value review", "csm", 20),
    ]
    assert response["Location"] == reverse("admin:risks_playbook_changelist")
    # The playbook works: a record opened on the cause gets its three tasks.
    risk = services.risk_open(
        user=csm, account=account, primary_cause=lost_champion, summary="Sponsor left.",
        next_steps="Find the new one.",
    )  # fmt: skip
    assert list(risk.tasks.order_by("due_date").values_list("title", flat=True)) == [
        "Map the new stakeholders",
        "Executive sponsor call",
        "Value review",
    ]


def test_steps_without_a_position_come_after_the_others(ops_client, lost_champion):
    steps = [
        {"title": "Last, no position", "owner": "csm", "due_days": 20},
        {"position": 7, "title": "First", "owner": "csm", "due_days": 5},
    ]

    ops_client.post(reverse(ADD_URL), add_data(lost_champion, steps))

    assert steps_of(Playbook.objects.get()) == [
        (1, "First", "csm", 5),
        (2, "Last, no position", "csm", 20),
    ]


def test_an_admin_edits_a_playbook_removing_and_reordering_its_steps(ops_client, lost_champion):
    playbook = make_playbook(lost_champion)
    page = ops_client.get(change_url(playbook))
    # Rows as shown: 0 stakeholders, 1 sponsor call, 2 product call, 3 blank.
    data = change_form_data(
        page,
        **{
            "name": "Lost sponsor, revised",
            "steps-0-position": "2",
            "steps-1-position": "1",
            "steps-2-DELETE": "on",
            "steps-3-position": "3",
            "steps-3-title": "Value review",
            "steps-3-owner": "csm",
            "steps-3-due_days": "20",
        },
    )

    response = ops_client.post(change_url(playbook), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    playbook.refresh_from_db()
    assert playbook.name == "Lost sponsor, revised"
    assert steps_of(playbook) == [
        (1, "Executive sponsor call", "manager", 10),
        (2, "Map the new stakeholders", "csm", 5),
        (3, "Value review", "csm", 20),
    ]


def test_a_second_active_playbook_for_the_same_cause_and_segment_is_a_form_error(
    ops_client, lost_champion, enterprise
):
    make_playbook(lost_champion, enterprise, name="Enterprise sponsor play")
    steps = [{"position": 1, "title": "Call", "owner": "csm", "due_days": 1}]

    response = ops_client.post(
        reverse(ADD_URL), add_data(lost_champion, steps, segment=enterprise.pk)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "This cause already has an active playbook for this segment."
    ]
    assert Playbook.objects.count() == 1
    # An inactive one for the same pair is fine: a draft of the next play.
    response = ops_client.post(
        reverse(ADD_URL), add_data(lost_champion, steps, segment=enterprise.pk, active="")
    )
    assert response.status_code == 302
    assert Playbook.objects.filter(active=False, segment=enterprise).count() == 1


def test_a_second_active_playbook_for_every_segment_is_a_form_error(ops_client, lost_champion):
    make_playbook(lost_champion)
    steps = [{"position": 1, "title": "Call", "owner": "csm", "due_days": 1}]

    response = ops_client.post(reverse(ADD_URL), add_data(lost_champion, steps))

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "This cause already has an active playbook for every segment."
    ]
    assert Playbook.objects.count() == 1


def test_activating_a_draft_beside_the_active_playbook_is_a_form_error(ops_client, lost_champion):
    make_playbook(lost_champion, name="Current")
    draft = make_playbook(lost_champion, name="Draft", active=False)
    data = change_form_data(ops_client.get(change_url(draft)), active="on")

    response = ops_client.post(change_url(draft), data)

    assert response.status_code == 200
    assert "already has an active playbook" in str(response.context["adminform"].form.errors)
    draft.refresh_from_db()
    assert draft.active is False


def test_a_step_due_after_more_than_a_year_is_an_error_on_its_field(ops_client, lost_champion):
    steps = [{"position": 1, "title": "Someday", "owner": "csm", "due_days": 261}]

    response = ops_client.post(reverse(ADD_URL), add_data(lost_champion, steps))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[0].errors["due_days"] == [
        "Ensure this value is less than or equal to 260."
    ]
    assert not Playbook.objects.exists()


def test_a_playbook_without_steps_is_refused_by_the_service(ops_client, lost_champion):
    response = ops_client.post(reverse(ADD_URL), add_data(lost_champion, []))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.non_form_errors() == ["A playbook needs at least one step."]
    assert not Playbook.objects.exists()


def test_a_step_without_a_title_is_an_error_next_to_it(ops_client, lost_champion):
    steps = [{"position": 1, "title": "", "owner": "sales", "due_days": 3}]

    response = ops_client.post(reverse(ADD_URL), add_data(lost_champion, steps))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[0].errors["title"] == ["This field is required."]
    assert not Playbook.objects.exists()


def test_deleting_a_playbook_keeps_the_tasks_it_gave(ops_client, lost_champion, csm, account):
    playbook = make_playbook(lost_champion)
    risk = services.risk_open(
        user=csm, account=account, primary_cause=lost_champion, summary="Sponsor left.",
        next_steps="Find the new one.",
    )  # fmt: skip

    response = ops_client.post(
        reverse("admin:risks_playbook_delete", args=[playbook.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Playbook.objects.exists()
    assert risk.tasks.count() == 3
    assert not risk.tasks.filter(step__isnull=False).exists()


# --- the preview ------------------------------------------------------------------------


def test_the_preview_shows_each_tasks_owner_and_business_day_due_date_on_an_example_account(
    ops_client, lost_champion, enterprise, csm, manager, region, monkeypatch
):
    factories.AccountFactory(name="Zeta Freight", csm=csm, region=region, segment=enterprise)
    factories.AccountFactory(name="Acme Foods", csm=csm, region=region, segment=enterprise)
    factories.AccountFactory(
        name="Aardvark Labs", csm=csm, region=region, segment=Segment.objects.get(code="smb")
    )
    playbook = make_playbook(lost_champion, enterprise)
    # Friday 19 June 2026, 10:00 in Berlin (the accounts' region).
    monkeypatch.setattr(
        business_days, "current_time", lambda: dt.datetime(2026, 6, 19, 10, 0, tzinfo=BERLIN)
    )

    html = ops_client.get(change_url(playbook)).content.decode()

    # The first active account of the playbook's segment by name.
    assert "Example account: <strong>Acme Foods</strong> (Enterprise, Europe), CSM Carl" in html
    assert "A record opened today, Fri 19 Jun 2026 (Europe/Berlin), would get:" in html
    # By hand: 5 business days after Friday 19 June is Friday 26 June; 10 is
    # Friday 3 July; 1 is Monday 22 June (the weekend does not count).
    assert (
        "<tr><td>1</td><td>Map the new stakeholders</td><td>The account&#x27;s CSM: Carl Example"
        "</td><td>Fri 26 Jun 2026 (5 business days)</td></tr>"
    ) in html
    assert (
        "<tr><td>2</td><td>Executive sponsor call</td><td>The CSM&#x27;s manager: Maria Example"
        "</td><td>Fri 3 Jul 2026 (10 business days)</td></tr>"
    ) in html
    assert (
        "<tr><td>3</td><td>Product roadmap call</td><td>Product (department)</td>"
        "<td>Mon 22 Jun 2026 (1 business day)</td></tr>"
    ) in html


def test_the_preview_counts_from_the_accounts_local_day(
    ops_client, lost_champion, csm, region, monkeypatch
):
    factories.AccountFactory(name="Acme Foods", csm=csm, region=region)
    playbook = make_playbook(lost_champion)
    # Friday 23:30 UTC is already Saturday 01:30 in Berlin: the count starts on
    # Monday 22 June, so 5 business days fall on Monday 29 June.
    monkeypatch.setattr(
        business_days,
        "current_time",
        lambda: dt.datetime(2026, 6, 19, 23, 30, tzinfo=dt.UTC),
    )

    html = ops_client.get(change_url(playbook)).content.decode()

    assert "A record opened today, Sat 20 Jun 2026 (Europe/Berlin)" in html
    assert "<td>Mon 29 Jun 2026 (5 business days)</td>" in html


def test_the_preview_of_a_playbook_for_every_segment_avoids_segments_with_their_own(
    ops_client, lost_champion, strategic, csm, region, monkeypatch
):
    factories.AccountFactory(name="Acme Strategic", csm=csm, region=region, segment=strategic)
    factories.AccountFactory(name="Zeta Enterprise", csm=csm, region=region)
    default = make_playbook(lost_champion, name="Lost sponsor")
    make_playbook(lost_champion, strategic, name="Lost sponsor (Strategic)")

    html = ops_client.get(change_url(default)).content.decode()

    assert "Example account: <strong>Zeta Enterprise</strong>" in html
    assert "Records on accounts of Strategic get their segment&#x27;s own playbook." in html


def test_a_csm_without_a_manager_keeps_the_managers_step_and_the_preview_says_so(
    ops_client, lost_champion, region
):
    loner = factories.CsmFactory(username="lena", manager=None, region=region)
    factories.AccountFactory(name="Acme Foods", csm=loner, region=region)
    playbook = make_playbook(lost_champion)

    html = ops_client.get(change_url(playbook)).content.decode()

    assert "The account&#x27;s CSM: Lena Example (the CSM has no active manager)" in html


def test_the_preview_says_when_there_is_no_account_to_preview_on(
    ops_client, lost_champion, strategic, account
):
    playbook = make_playbook(lost_champion, strategic)  # ``account`` is Enterprise

    response = ops_client.get(change_url(playbook))

    assert response.status_code == 200
    assert "No active account in the Strategic segment to preview on." in response.text


def test_churned_accounts_are_no_example(ops_client, lost_champion, account):
    account.status = "churned"
    account.churned_on = timezone.localdate()
    account.save()
    playbook = make_playbook(lost_champion)

    assert "No active account at all to preview on." in ops_client.get(change_url(playbook)).text


# --- who may change playbooks ------------------------------------------------------------


@pytest.fixture
def staff_manager(client: Client, manager: User) -> Client:
    """A manager given staff status and every permission on playbooks: still
    not an admin, so still no writing."""
    manager.is_staff = True
    manager.save()
    manager.user_permissions.set(
        Permission.objects.filter(codename__endswith="playbook")
        | Permission.objects.filter(codename__endswith="playbookstep")
    )
    client.force_login(manager)
    return client


def test_non_admin_staff_can_look_at_playbooks_but_not_change_them(staff_manager, lost_champion):
    playbook = make_playbook(lost_champion)
    before = steps_of(playbook)

    assert staff_manager.get(reverse("admin:risks_playbook_changelist")).status_code == 200
    page = staff_manager.get(change_url(playbook))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert staff_manager.get(reverse(ADD_URL)).status_code == 403
    steps = [{"position": 1, "title": "Mine now", "owner": "csm", "due_days": 1}]
    assert staff_manager.post(reverse(ADD_URL), add_data(lost_champion, steps)).status_code == 403
    response = staff_manager.post(change_url(playbook), {"name": "Renamed", "active": ""})
    assert response.status_code == 403
    delete = reverse("admin:risks_playbook_delete", args=[playbook.pk])
    assert staff_manager.post(delete, {"post": "yes"}).status_code == 403

    playbook.refresh_from_db()
    assert (playbook.name, playbook.active, steps_of(playbook)) == (
        "Play for lost-champion",
        True,
        before,
    )
    assert Playbook.objects.count() == 1


def test_the_playbook_list_shows_segment_or_every_segment_and_the_number_of_steps(
    ops_client, lost_champion, strategic
):
    make_playbook(lost_champion, name="Lost sponsor")
    make_playbook(lost_champion, strategic, name="Lost sponsor (Strategic)", steps=[
        {"title": "Exec to exec", "owner": "sales", "due_days": 5},
    ])  # fmt: skip
    url = reverse("admin:risks_playbook_changelist")

    changelist = ops_client.get(url).context["cl"]
    shown = changelist.model_admin
    rows = {
        row.name: (shown.segment_or_every(row), shown.step_count(row))
        for row in changelist.result_list
    }
    assert rows == {
        "Lost sponsor": ("Every segment", 3),
        "Lost sponsor (Strategic)": ("Strategic", 1),
    }

    every = ops_client.get(url, {"segment": "every"}).context["cl"].result_list
    assert [playbook.name for playbook in every] == ["Lost sponsor"]
    mine = ops_client.get(url, {"segment": strategic.pk}).context["cl"].result_list
    assert [playbook.name for playbook in mine] == ["Lost sponsor (Strategic)"]


# --- tasks -------------------------------------------------------------------------------


def test_tasks_are_listed_and_filtered_but_never_written(ops_client, csm, account):
    risk = factories.RiskRecordFactory(account=account)
    today = timezone.localdate()
    late = factories.TaskFactory(risk=risk, title="Late call", due_date=today - dt.timedelta(1))
    factories.TaskFactory(risk=risk, title="Done call", due_date=today - dt.timedelta(3),
                          done_at=timezone.now(), done_by=csm)  # fmt: skip
    factories.TaskFactory(
        risk=risk, title="Product call", owner=None, department="product",
        source=TaskSource.PLAYBOOK,
    )  # fmt: skip
    closed = factories.RiskRecordFactory(
        account=account, status="withdrawn", closed_at=timezone.now(), arr_retained=0
    )
    factories.TaskFactory(risk=closed, title="Left over", due_date=today - dt.timedelta(5))
    url = reverse("admin:risks_task_changelist")

    def titles(**params: str) -> set[str]:
        return {task.title for task in ops_client.get(url, params).context["cl"].result_list}

    assert titles() == {"Late call", "Done call", "Product call", "Left over"}
    # Overdue as the task pages count it: not on a closed record.
    assert titles(state="overdue") == {"Late call"}
    assert titles(state="open") == {"Late call", "Product call", "Left over"}
    assert titles(state="done") == {"Done call"}
    assert titles(department="product") == {"Product call"}
    assert titles(source="playbook") == {"Product call"}
    assert titles(q=account.name) == {"Late call", "Done call", "Product call", "Left over"}
    assert ops_client.get(reverse("admin:risks_task_add")).status_code == 403
    change = reverse("admin:risks_task_change", args=[late.pk])
    assert ops_client.get(change).status_code == 200  # a view page
    assert ops_client.post(change, {"title": "Renamed"}).status_code == 403
    late.refresh_from_db()
    assert late.title == "Late call"
    assert Task.objects.count() == 4


@pytest.mark.parametrize("model", ["risks_playbook", "risks_task"])
def test_playbook_and_task_lists_render_with_constant_queries(
    ops_client, django_assert_max_num_queries, model
):
    def make_rows(n: int) -> None:
        for _ in range(n):
            if model == "risks_playbook":
                factories.PlaybookStepFactory(playbook=factories.PlaybookFactory())
            else:
                factories.TaskFactory()

    url = reverse(f"admin:{model}_changelist")
    make_rows(2)
    ops_client.get(url)  # warm up the session and caches
    with django_assert_max_num_queries(10) as few:
        assert ops_client.get(url).status_code == 200
    make_rows(18)
    with django_assert_max_num_queries(10) as many:
        response = ops_client.get(url)
    assert len(response.context["cl"].result_list) == 20
    assert len(many) == len(few)


def test_the_add_page_renders_with_an_empty_step_row(ops_client):
    response = ops_client.get(reverse(ADD_URL))

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert len(formset.forms) == 1
    assert PlaybookStep.objects.count() == 0
