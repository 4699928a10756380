"""/api/v1/playbooks/ (docs/api.md): everyone signed in reads and previews
playbooks, CS operations admins write them through ``playbook_save`` and
``playbook_delete``; one active playbook per cause and segment (409)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Segment
from risks import services
from risks.api.tasks import flat_errors
from risks.models import Playbook, PlaybookStep, RootCause, StepOwner, Task, TaskSource
from tests import factories

pytestmark = pytest.mark.django_db


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def url(pk: int | None = None, action: str | None = None) -> str:
    if pk is None:
        return "/api/v1/playbooks/"
    return f"/api/v1/playbooks/{pk}/" if action is None else f"/api/v1/playbooks/{pk}/{action}/"


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def make_playbook(cause: RootCause, *, segment=None, active=True, name="Usage rescue", steps=2):
    playbook = factories.PlaybookFactory(
        name=name, root_cause=cause, segment=segment, active=active
    )
    for position in range(1, steps + 1):
        factories.PlaybookStepFactory(
            playbook=playbook, position=position, title=f"{name} step {position}"
        )
    return playbook


NEW_PLAYBOOK = {
    "name": "Defect triage",
    "root_cause": "defects",
    "segment": None,
    "description": "When product defects put the renewal at risk.",
    "active": True,
    "steps": [
        {"title": "Collect the open tickets", "owner": "csm", "due_days": 2},
        {
            "title": "Escalate to product",
            "description": "Ask product for a fix date.",
            "owner": "product",
            "due_days": 5,
        },
        {"title": "Review with the sponsor", "owner": "manager", "due_days": 10},
    ],
}


@pytest.fixture
def enterprise() -> Segment:
    return Segment.objects.get(code="enterprise")


@pytest.fixture
def smb() -> Segment:
    return Segment.objects.get(code="smb")


# --- reading -------------------------------------------------------------------------------


def test_playbook_is_represented_with_its_steps_in_order(csm, low_usage, enterprise):
    playbook = factories.PlaybookFactory(
        name="Enterprise usage", root_cause=low_usage, segment=enterprise, description="Why."
    )
    second = factories.PlaybookStepFactory(
        playbook=playbook, position=2, title="Training", owner="support", due_days=10
    )
    first = factories.PlaybookStepFactory(
        playbook=playbook, position=1, title="Call the sponsor", owner="manager", due_days=3
    )

    response = client_for(csm).get(url(playbook.pk))

    assert response.status_code == 200
    assert response.json() == {
        "id": playbook.pk,
        "name": "Enterprise usage",
        "root_cause": "low-usage",
        "segment": "enterprise",
        "description": "Why.",
        "active": True,
        "steps": [
            {
                "id": first.pk,
                "position": 1,
                "title": "Call the sponsor",
                "description": "",
                "owner": "manager",
                "due_days": 3,
            },
            {
                "id": second.pk,
                "position": 2,
                "title": "Training",
                "description": "",
                "owner": "support",
                "due_days": 10,
            },
        ],
    }


def test_list_is_by_cause_then_every_segment_first_then_name(reviewer, low_usage, defects, smb):
    make_playbook(low_usage, segment=smb, name="B smb usage")
    make_playbook(low_usage, name="Z usage for all")
    make_playbook(defects, name="A defects")

    response = client_for(reviewer).get(url())

    assert response.status_code == 200
    by_cause = sorted([defects, low_usage], key=lambda cause: cause.name)
    expected = {
        defects.pk: ["A defects"],
        low_usage.pk: ["Z usage for all", "B smb usage"],
    }
    assert names(response) == [name for cause in by_cause for name in expected[cause.pk]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"root_cause": "low-usage"}, {"Usage for all", "Usage smb", "Old usage"}),
        ({"root_cause": "defects"}, {"Defects"}),
        ({"segment": "smb"}, {"Usage smb"}),
        ({"active": "true"}, {"Usage for all", "Usage smb", "Defects"}),
        ({"active": "false"}, {"Old usage"}),
        ({"root_cause": "low-usage", "active": "true"}, {"Usage for all", "Usage smb"}),
        ({"segment": "enterprise"}, set()),
    ],
)
def test_each_filter_selects_the_matching_playbooks(csm, low_usage, defects, smb, params, expected):
    make_playbook(low_usage, name="Usage for all")
    make_playbook(low_usage, segment=smb, name="Usage smb")
    make_playbook(low_usage, name="Old usage", active=False)
    make_playbook(defects, name="Defects")

    response = client_for(csm).get(url(), params)

    assert response.status_code == 200
    assert set(names(response)) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"root_cause": "no-such-cause"}, "root_cause"),
        ({"segment": "no-such-segment"}, "segment"),
        ({"active": "perhaps"}, "active"),
    ],
)
def test_invalid_filter_values_are_400_on_the_parameter(csm, params, field):
    response = client_for(csm).get(url(), params)

    assert response.status_code == 400
    assert field in response.json()


def test_a_playbooks_own_url_ignores_the_list_filters(csm, low_usage):
    playbook = make_playbook(low_usage, active=False)

    response = client_for(csm).get(url(playbook.pk), {"active": "true"})

    assert response.status_code == 200
    assert response.json()["id"] == playbook.pk


def test_unknown_playbook_is_404(csm):
    assert client_for(csm).get(url(999999)).status_code == 404


# --- writing -------------------------------------------------------------------------------


def test_admin_adds_a_playbook_with_its_steps(admin_user):
    response = client_for(admin_user).post(url(), NEW_PLAYBOOK)

    assert response.status_code == 201
    body = response.json()
    playbook = Playbook.objects.get(pk=body["id"])
    assert (playbook.name, playbook.root_cause.code, playbook.segment, playbook.active) == (
        "Defect triage",
        "defects",
        None,
        True,
    )
    steps = list(playbook.steps.order_by("position"))
    assert [(s.position, s.title, s.owner, s.due_days) for s in steps] == [
        (1, "Collect the open tickets", "csm", 2),
        (2, "Escalate to product", "product", 5),
        (3, "Review with the sponsor", "manager", 10),
    ]
    assert body["steps"][1] == {
        "id": steps[1].pk,
        "position": 2,
        "title": "Escalate to product",
        "description": "Ask product for a fix date.",
        "owner": "product",
        "due_days": 5,
    }
    assert body["segment"] is None and body["root_cause"] == "defects"


def test_a_step_without_owner_goes_to_the_csm_and_a_playbook_defaults_to_active(admin_user):
    body = {
        "name": "Minimal",
        "root_cause": "defects",
        "steps": [{"title": "Call", "due_days": 0}],
    }

    response = client_for(admin_user).post(url(), body)

    assert response.status_code == 201
    assert response.json()["active"] is True
    assert response.json()["segment"] is None
    assert response.json()["steps"][0]["owner"] == StepOwner.CSM


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"root_cause": "no-such-cause"}, "root_cause"),
        ({"root_cause": None}, "root_cause"),
        ({"segment": "no-such-segment"}, "segment"),
        ({"steps": []}, "steps"),
        ({"steps": "three"}, "steps"),
        ({"steps": [{"title": "Call", "due_days": 1}] * 21}, "steps"),
    ],
)
def test_invalid_playbook_is_400_on_the_field(admin_user, change, field):
    response = client_for(admin_user).post(url(), {**NEW_PLAYBOOK, **change})

    assert response.status_code == 400
    assert field in response.json()
    assert not Playbook.objects.exists()


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"title": "", "due_days": 1}, "steps[2].title"),
        ({"title": "t" * 201, "due_days": 1}, "steps[2].title"),
        ({"title": "Call", "due_days": 261}, "steps[2].due_days"),  # the service: at most a year
        ({"title": "Call", "due_days": -1}, "steps[2].due_days"),
        ({"title": "Call", "due_days": "soon"}, "steps[2].due_days"),  # the parser
        ({"title": "Call"}, "steps[2].due_days"),
        ({"title": "Call", "due_days": 1, "owner": "legal"}, "steps[2].owner"),
        ("call the sponsor", "steps[2]"),
    ],
)
def test_a_bad_step_is_named_by_its_position_counted_from_1(admin_user, step, field):
    body = {**NEW_PLAYBOOK, "steps": [NEW_PLAYBOOK["steps"][0], step]}

    response = client_for(admin_user).post(url(), body)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert all(isinstance(message, str) for message in response.json()[field])
    assert not Playbook.objects.exists()


def test_a_second_active_playbook_for_the_same_cause_and_segment_is_409(admin_user, defects):
    existing = make_playbook(defects, name="Existing defects play")

    response = client_for(admin_user).post(url(), NEW_PLAYBOOK)

    assert response.status_code == 409
    assert "already has an active playbook" in response.json()["detail"]
    assert list(Playbook.objects.values_list("pk", flat=True)) == [existing.pk]


def test_a_second_playbook_may_be_saved_inactive_or_for_a_segment(admin_user, defects):
    make_playbook(defects, name="Existing defects play")
    client = client_for(admin_user)

    inactive = client.post(url(), {**NEW_PLAYBOOK, "active": False})
    for_smb = client.post(url(), {**NEW_PLAYBOOK, "name": "SMB defects", "segment": "smb"})
    second_smb = client.post(url(), {**NEW_PLAYBOOK, "name": "SMB again", "segment": "smb"})

    assert (inactive.status_code, for_smb.status_code, second_smb.status_code) == (201, 201, 409)


def test_put_replaces_the_fields_and_rewrites_the_steps_in_place(admin_user, low_usage, smb):
    playbook = make_playbook(low_usage, segment=smb, steps=3)
    step_ids = list(playbook.steps.order_by("position").values_list("pk", flat=True))

    response = client_for(admin_user).put(url(playbook.pk), NEW_PLAYBOOK)

    assert response.status_code == 200
    playbook.refresh_from_db()
    assert (playbook.name, playbook.root_cause.code, playbook.segment) == (
        "Defect triage",
        "defects",
        None,
    )
    assert playbook.description == NEW_PLAYBOOK["description"]
    assert [(s["id"], s["title"], s["owner"]) for s in response.json()["steps"]] == [
        (step_ids[0], "Collect the open tickets", "csm"),
        (step_ids[1], "Escalate to product", "product"),
        (step_ids[2], "Review with the sponsor", "manager"),
    ]


def test_put_with_fewer_steps_deletes_the_rest_and_their_tasks_keep_their_text(
    admin_user, low_usage, account
):
    playbook = make_playbook(low_usage, steps=3)
    third = playbook.steps.get(position=3)
    risk = factories.RiskRecordFactory(account=account, primary_cause=low_usage)
    task = factories.TaskFactory(
        risk=risk, title=third.title, step=third, source=TaskSource.PLAYBOOK
    )

    response = client_for(admin_user).put(
        url(playbook.pk),
        {"name": "Short", "root_cause": "low-usage", "steps": [{"title": "Only", "due_days": 1}]},
    )

    assert response.status_code == 200
    assert [(s.position, s.title) for s in playbook.steps.all()] == [(1, "Only")]
    # Left out of a PUT, description and segment go back to their defaults.
    assert response.json()["description"] == ""
    assert response.json()["segment"] is None
    task.refresh_from_db()
    assert (task.title, task.step) == ("Usage rescue step 3", None)


def test_patch_active_false_keeps_name_cause_segment_and_steps(admin_user, low_usage, smb):
    playbook = make_playbook(low_usage, segment=smb, steps=2)
    before = list(playbook.steps.values_list("pk", "title", "owner", "due_days"))

    response = client_for(admin_user).patch(url(playbook.pk), {"active": False})

    assert response.status_code == 200
    playbook.refresh_from_db()
    assert (playbook.active, playbook.name, playbook.segment, playbook.root_cause) == (
        False,
        "Usage rescue",
        smb,
        low_usage,
    )
    assert list(playbook.steps.values_list("pk", "title", "owner", "due_days")) == before


def test_patch_steps_replaces_every_step(admin_user, low_usage):
    playbook = make_playbook(low_usage, steps=3)

    response = client_for(admin_user).patch(
        url(playbook.pk), {"steps": [{"title": "New first", "owner": "finance", "due_days": 4}]}
    )

    assert response.status_code == 200
    assert [(s["position"], s["title"], s["owner"]) for s in response.json()["steps"]] == [
        (1, "New first", "finance")
    ]
    assert playbook.steps.count() == 1


def test_patch_with_a_step_missing_its_due_days_is_400_on_that_step(admin_user, low_usage):
    playbook = make_playbook(low_usage, steps=1)

    response = client_for(admin_user).patch(url(playbook.pk), {"steps": [{"title": "No date"}]})

    assert response.status_code == 400
    assert list(response.json()) == ["steps[1].due_days"]
    assert playbook.steps.get().title == "Usage rescue step 1"


def test_reactivating_a_second_playbook_for_the_same_cause_is_409(admin_user, low_usage):
    make_playbook(low_usage, name="Current")
    old = make_playbook(low_usage, name="Old", active=False)

    response = client_for(admin_user).patch(url(old.pk), {"active": True})

    assert response.status_code == 409
    old.refresh_from_db()
    assert old.active is False


def test_admin_deletes_a_playbook_and_its_tasks_keep_their_text(admin_user, low_usage, account):
    playbook = make_playbook(low_usage, steps=2)
    step = playbook.steps.get(position=1)
    risk = factories.RiskRecordFactory(account=account, primary_cause=low_usage)
    task = factories.TaskFactory(risk=risk, title=step.title, step=step, source="playbook")

    response = client_for(admin_user).delete(url(playbook.pk))

    assert response.status_code == 204
    assert not Playbook.objects.filter(pk=playbook.pk).exists()
    assert not PlaybookStep.objects.filter(playbook_id=playbook.pk).exists()
    task.refresh_from_db()
    assert (task.title, task.step) == ("Usage rescue step 1", None)


def test_writing_an_unknown_playbook_is_404(admin_user):
    client = client_for(admin_user)
    assert client.put(url(999999), NEW_PLAYBOOK).status_code == 404
    assert client.patch(url(999999), {"active": False}).status_code == 404
    assert client.delete(url(999999)).status_code == 404


# --- preview ---------------------------------------------------------------------------------

# Friday 2026-03-06, 23:30 UTC: already Saturday in Berlin, still Friday in New York.
FRIDAY_NIGHT_UTC = dt.datetime(2026, 3, 6, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def at_friday_night(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: FRIDAY_NIGHT_UTC)


@pytest.fixture
def preview_playbook(low_usage):
    playbook = factories.PlaybookFactory(name="Usage rescue", root_cause=low_usage)
    factories.PlaybookStepFactory(
        playbook=playbook, position=1, title="Call", owner="csm", due_days=0
    )
    factories.PlaybookStepFactory(
        playbook=playbook, position=2, title="Sponsor", owner="manager", due_days=1
    )
    factories.PlaybookStepFactory(
        playbook=playbook, position=3, title="Training", owner="support", due_days=5
    )
    return playbook


def test_preview_gives_each_step_its_owner_and_business_day_due_date_in_the_accounts_region(
    reviewer, csm, manager, account, preview_playbook, at_friday_night
):
    # The account is in EMEA (Europe/Berlin), where it is Saturday 2026-03-07:
    # business days count from Monday the 9th.
    response = client_for(reviewer).get(
        url(preview_playbook.pk, "preview"), {"account": account.pk}
    )

    assert response.status_code == 200
    steps = {step.position: step.pk for step in preview_playbook.steps.all()}
    assert response.json() == {
        "playbook": preview_playbook.pk,
        "account": account.pk,
        "opened_on": "2026-03-07",
        "applies": True,
        "tasks": [
            {
                "step": steps[1],
                "position": 1,
                "title": "Call",
                "description": "",
                "owner": csm.pk,
                "owner_label": str(csm),
                "department": "",
                "due_date": "2026-03-09",
            },
            {
                "step": steps[2],
                "position": 2,
                "title": "Sponsor",
                "description": "",
                "owner": manager.pk,
                "owner_label": str(manager),
                "department": "",
                "due_date": "2026-03-10",
            },
            {
                "step": steps[3],
                "position": 3,
                "title": "Training",
                "description": "",
                "owner": None,
                "owner_label": "Support",
                "department": "support",
                "due_date": "2026-03-16",
            },
        ],
    }


def test_preview_counts_from_the_day_it_is_in_new_york(
    csm, other_region, preview_playbook, at_friday_night
):
    account = factories.AccountFactory(csm=csm, region=other_region)

    response = client_for(csm).get(url(preview_playbook.pk, "preview"), {"account": account.pk})

    assert response.status_code == 200
    assert response.json()["opened_on"] == "2026-03-06"
    assert [task["due_date"] for task in response.json()["tasks"]] == [
        "2026-03-06",
        "2026-03-09",
        "2026-03-13",
    ]


def test_preview_gives_the_csm_the_managers_steps_when_there_is_no_manager(
    admin_user, region, preview_playbook
):
    lone = factories.CsmFactory(username="lonely", manager=None, region=region)
    account = factories.AccountFactory(csm=lone, region=region)

    response = client_for(admin_user).get(
        url(preview_playbook.pk, "preview"), {"account": account.pk}
    )

    assert [task["owner"] for task in response.json()["tasks"]] == [lone.pk, lone.pk, None]


def test_preview_says_whether_the_playbook_applies_to_the_account(
    csm, account, low_usage, preview_playbook
):
    # The account is enterprise: an active enterprise playbook comes first.
    own = make_playbook(low_usage, segment=account.segment, name="Enterprise usage")
    client = client_for(csm)

    general = client.get(url(preview_playbook.pk, "preview"), {"account": account.pk})
    segments = client.get(url(own.pk, "preview"), {"account": account.pk})
    own.active = False
    own.save()
    inactive = client.get(url(own.pk, "preview"), {"account": account.pk})
    general_again = client.get(url(preview_playbook.pk, "preview"), {"account": account.pk})

    assert general.json()["applies"] is False
    assert segments.json()["applies"] is True
    assert inactive.json()["applies"] is False
    assert len(inactive.json()["tasks"]) == 2  # shown even so
    assert general_again.json()["applies"] is True


@pytest.mark.parametrize("params", [{}, {"account": "999999"}, {"account": "abc"}])
def test_preview_needs_an_existing_account(csm, preview_playbook, params):
    response = client_for(csm).get(url(preview_playbook.pk, "preview"), params)

    assert response.status_code == 400
    assert list(response.json()) == ["account"]


def test_preview_of_an_unknown_playbook_is_404(csm, account):
    assert client_for(csm).get(url(999999, "preview"), {"account": account.pk}).status_code == 404


# --- permission table -------------------------------------------------------------------------

ROLES = ["anonymous", "csm", "manager", "reviewer", "admin"]
SIGNED_IN = set(ROLES) - {"anonymous"}
ADMINS = {"admin"}

# (cell, allowed roles, status when allowed); everyone else signed in gets 403.
CELLS = [
    ("list", SIGNED_IN, 200),
    ("retrieve", SIGNED_IN, 200),
    ("preview", SIGNED_IN, 200),
    ("create", ADMINS, 201),
    ("update", ADMINS, 200),
    ("partial_update", ADMINS, 200),
    ("destroy", ADMINS, 204),
]


@pytest.fixture
def people(csm, manager, reviewer, admin_user):
    return {
        "anonymous": None,
        "csm": csm,
        "manager": manager,
        "reviewer": reviewer,
        "admin": admin_user,
    }


def _call(client: APIClient, cell: str, playbook: Playbook, account) -> int:
    calls = {
        "list": lambda: client.get(url()),
        "retrieve": lambda: client.get(url(playbook.pk)),
        "preview": lambda: client.get(url(playbook.pk, "preview"), {"account": account.pk}),
        "create": lambda: client.post(url(), NEW_PLAYBOOK),
        "update": lambda: client.put(url(playbook.pk), {**NEW_PLAYBOOK, "name": "Renamed"}),
        "partial_update": lambda: client.patch(url(playbook.pk), {"name": "Renamed"}),
        "destroy": lambda: client.delete(url(playbook.pk)),
    }
    return calls[cell]().status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("cell", "allowed", "status"), CELLS, ids=[cell[0] for cell in CELLS])
def test_permission_table(people, account, low_usage, role, cell, allowed, status):
    playbook = make_playbook(low_usage, name="Unchanged")
    if role == "anonymous":
        expected = 401
    elif role in allowed:
        expected = status
    else:
        expected = 403

    assert _call(client_for(people[role]), cell, playbook, account) == expected

    if expected >= 400:
        playbook.refresh_from_db()
        assert playbook.name == "Unchanged"
        assert playbook.steps.count() == 2
        assert not Playbook.objects.filter(name="Defect triage").exists()


# --- query counts --------------------------------------------------------------------------


def test_playbook_list_costs_the_same_queries_for_1_and_60_playbooks(
    csm, django_assert_num_queries
):
    causes = RootCause.objects.all()
    for index in range(60):
        # One active per cause; the rest inactive, so the constraints hold.
        make_playbook(causes[index % causes.count()], name=f"Play {index:02d}", active=index < 10)
    client = client_for(csm)
    # count, page, steps
    with django_assert_num_queries(3):
        small = client.get(url(), {"page_size": 1})
    with django_assert_num_queries(3):
        large = client.get(url(), {"page_size": 60})

    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 60
    assert all(len(row["steps"]) == 2 for row in large.json()["results"])


def test_preview_costs_the_same_queries_for_1_and_20_steps(
    csm, account, low_usage, defects, django_assert_num_queries
):
    short = make_playbook(low_usage, steps=1)
    long = make_playbook(defects, name="Long", steps=20)
    client = client_for(csm)
    # the playbook, the account (with its CSM, manager and region), the steps, the
    # playbook the account's record would get
    with django_assert_num_queries(4):
        one = client.get(url(short.pk, "preview"), {"account": account.pk})
    with django_assert_num_queries(4):
        twenty = client.get(url(long.pk, "preview"), {"account": account.pk})

    assert len(one.json()["tasks"]) == 1
    assert len(twenty.json()["tasks"]) == 20


def test_the_tasks_a_record_gets_match_the_preview(csm, account, preview_playbook, low_usage):
    preview = client_for(csm).get(url(preview_playbook.pk, "preview"), {"account": account.pk})
    risk = services.risk_open(
        user=csm, account=account, primary_cause=low_usage, summary="s", next_steps="n"
    )

    given = [
        {"title": t.title, "owner": t.owner_id, "department": t.department, "due": t.due_date}
        for t in Task.objects.filter(risk=risk).order_by("step__position")
    ]
    shown = [
        {
            "title": t["title"],
            "owner": t["owner"],
            "department": t["department"],
            "due": dt.date.fromisoformat(t["due_date"]),
        }
        for t in preview.json()["tasks"]
    ]
    assert given == shown


@pytest.mark.parametrize(
    ("detail", "flat"),
    [
        # DRF's dict form of a list's errors (keyed by 0-based index), and the
        # older list form: both name the item from 1, as the service does.
        ({"steps": {1: {"due_days": ["Bad."]}}}, {"steps[2].due_days": ["Bad."]}),
        ({"steps": [{}, {"due_days": ["Bad."]}]}, {"steps[2].due_days": ["Bad."]}),
        (
            {"steps": {0: {"non_field_errors": ["Not an object."]}}},
            {"steps[1]": ["Not an object."]},
        ),
        ({"steps": {"non_field_errors": ["Not a list."]}}, {"steps": ["Not a list."]}),
        (
            {"name": ["Required."], "non_field_errors": ["Whole."]},
            {
                "name": ["Required."],
                "non_field_errors": ["Whole."],
            },
        ),
    ],
)
def test_nested_errors_are_flattened_to_the_services_field_names(detail, flat):
    assert flat_errors(detail) == flat
