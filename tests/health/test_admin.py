"""The health admin: measures and lines written through health.services (the
API's rules and messages), the scorecard editor of one segment, and
observations and scores for reference only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Segment, User
from health.models import HealthScore, Measure, Threshold
from tests import factories

pytestmark = pytest.mark.django_db

EDITOR = reverse("admin:health_threshold_scorecard")


@pytest.fixture
def superuser() -> User:
    return factories.AdminFactory(username="opsadmin", is_superuser=True)


@pytest.fixture
def ops_client(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


def form_data(response: Any, form_key: str, **overrides: Any) -> dict[str, Any]:
    """What the browser would post back from a rendered page: the values of
    the form (``adminform`` with its inlines, or a ``formset``) and ``overrides``."""
    data: dict[str, Any] = {}
    context = response.context
    if form_key == "adminform":
        forms = [context["adminform"].form]
        for inline in context["inline_admin_formsets"]:
            forms.append(inline.formset.management_form)
            forms.extend(inline.formset.forms)
    else:
        formset = context[form_key]
        forms = [formset.management_form, *formset.forms]
    for form in forms:
        for bound_field in form:
            value = bound_field.value()
            if value is None or value is False:
                continue  # an empty input or an unticked box posts nothing
            data[bound_field.html_name] = "on" if value is True else value
    data.update(overrides)
    return data


def line(measure_code: str, segment_code: str | None) -> Threshold | None:
    return (
        Threshold.objects.filter(measure__code=measure_code, segment__code=segment_code).first()
        if segment_code
        else Threshold.objects.filter(measure__code=measure_code, segment__isnull=True).first()
    )


# --- changelists: constant queries ----------------------------------------------------------


def _measures(n: int) -> None:
    for _ in range(n):
        factories.MeasureFactory(code=f"m-{Measure.objects.count()}")


def _lines(n: int) -> None:
    for _ in range(n):
        factories.ThresholdFactory(
            measure=factories.MeasureFactory(code=f"l-{Measure.objects.count()}")
        )


def _observations(n: int) -> None:
    factories.ObservationFactory.create_batch(n, measure=Measure.objects.get(code="nps"))


def _scores(n: int) -> None:
    for _ in range(n):
        HealthScore.objects.create(
            account=factories.AccountFactory(),
            as_of=timezone.now().date(),
            score=50,
            band="yellow",
            coverage=Decimal("1"),
            computed_at=timezone.now(),
        )


CHANGELISTS: list[tuple[str, Callable[[int], None], int]] = [
    ("health_measure", _measures, 5),
    ("health_threshold", _lines, 6),
    ("health_observation", _observations, 7),
    ("health_healthscore", _scores, 6),
]


@pytest.mark.parametrize(("model", "make_rows", "max_queries"), CHANGELISTS)
def test_every_health_changelist_renders_with_constant_queries(
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
    assert len(response.context["cl"].result_list) >= 20
    assert len(many) == len(few)


def test_observations_and_scores_are_for_reference_only(ops_client):
    _observations(1)
    _scores(1)
    for model in ("observation", "healthscore"):
        assert ops_client.get(reverse(f"admin:health_{model}_add")).status_code == 403
    score = HealthScore.objects.get()
    page = ops_client.get(reverse("admin:health_healthscore_change", args=[score.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


# --- measures -------------------------------------------------------------------------------


MEASURE_FORM = {
    "code": "seats-used",
    "name": "Seats used",
    "description": "",
    "unit": "seats",
    "dimension": "current_state",
    "kind": "number",
    "better": "higher",
    "scoring": "value",
    "baseline_days": "90",
    "stale_after_days": "45",
    "suggested_cause": "",
    "active": "on",
}


def test_measure_added_in_the_admin_goes_through_the_service(ops_client):
    response = ops_client.post(reverse("admin:health_measure_add"), MEASURE_FORM)

    assert response.status_code == 302
    measure = Measure.objects.get(code="seats-used")
    assert (measure.better, measure.unit) == ("higher", "seats")
    assert LogEntry.objects.filter(object_id=str(measure.pk), action_flag=ADDITION).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"better": ""}, "better"),
        ({"kind": "event"}, "better"),  # an event has no direction
        ({"code": "nps"}, "code"),
    ],
)
def test_invalid_measure_shows_the_services_error_on_the_field(ops_client, overrides, field):
    response = ops_client.post(reverse("admin:health_measure_add"), {**MEASURE_FORM, **overrides})

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Measure.objects.filter(code="seats-used").exists()


def test_admin_and_api_give_the_same_answer_for_a_number_without_direction(ops_client, superuser):
    from rest_framework.test import APIClient

    page = ops_client.post(reverse("admin:health_measure_add"), {**MEASURE_FORM, "better": ""})
    api = APIClient()
    api.force_authenticate(superuser)
    answer = api.post("/api/v1/measures/", {**MEASURE_FORM, "better": "", "active": True})

    assert page.context["adminform"].form.errors["better"] == answer.json()["better"]


def test_measure_change_page_edits_its_lines_inline(ops_client):
    nps = Measure.objects.get(code="nps")
    url = reverse("admin:health_measure_change", args=[nps.pk])
    page = ops_client.get(url)
    assert page.status_code == 200

    data = form_data(page, "adminform", **{"thresholds-0-weight": "25"})
    response = ops_client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert line("nps", None).weight == 25


def test_a_bad_inline_line_shows_its_error_and_nothing_is_written(ops_client):
    nps = Measure.objects.get(code="nps")
    url = reverse("admin:health_measure_change", args=[nps.pk])
    page = ops_client.get(url)

    data = form_data(
        page,
        "adminform",
        name="Net promoter score",  # a valid change of the measure itself
        **{"thresholds-0-red": "50", "thresholds-0-green": "10"},  # the wrong way round
    )
    response = ops_client.post(url, data)

    assert response.status_code == 200
    inline_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "green" in inline_form.errors
    nps.refresh_from_db()
    assert nps.name == "NPS"  # rolled back with the rest
    assert line("nps", None).red == Decimal("0")


def test_inline_lines_are_checked_against_the_measure_as_saved_on_the_same_page(ops_client):
    nps = Measure.objects.get(code="nps")
    url = reverse("admin:health_measure_change", args=[nps.pk])
    page = ops_client.get(url)

    # Turned into an event, whose lines ignore red and green, in the same post
    # as a line that a number measure would refuse.
    data = form_data(
        page, "adminform", kind="event", **{"thresholds-0-red": "50", "thresholds-0-green": "10"}
    )
    data.pop("better")
    response = ops_client.post(url, data)

    assert response.status_code == 302
    nps.refresh_from_db()
    assert (nps.kind, nps.better) == ("event", "")
    assert line("nps", None).red == Decimal("50")


def test_adding_a_second_line_for_a_segment_shows_the_error_on_segment(ops_client):
    logins = Measure.objects.get(code="logins-30d")
    smb = Segment.objects.get(code="smb")
    response = ops_client.post(
        reverse("admin:health_threshold_add"),
        {"measure": logins.pk, "segment": smb.pk, "red": "1", "green": "2", "weight": "3"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["segment"] == [
        "This measure has a line for SMB already; change that one."
    ]


def test_an_observed_measure_cannot_be_deleted_in_the_admin(ops_client, account):
    nps = Measure.objects.get(code="nps")
    factories.ObservationFactory(account=account, measure=nps)

    page = ops_client.get(reverse("admin:health_measure_delete", args=[nps.pk]))
    ops_client.post(reverse("admin:health_measure_delete", args=[nps.pk]), {"post": "yes"})

    assert b"deactivate it" in page.content
    assert Measure.objects.filter(pk=nps.pk).exists()


def test_an_unobserved_measure_is_deleted_with_its_lines(ops_client):
    measure = factories.MeasureFactory(code="short-lived")
    factories.ThresholdFactory(measure=measure)

    response = ops_client.post(
        reverse("admin:health_measure_delete", args=[measure.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Measure.objects.filter(code="short-lived").exists()
    assert not Threshold.objects.filter(measure_id=measure.pk).exists()


def test_measures_are_deactivated_by_an_action(ops_client):
    nps = Measure.objects.get(code="nps")
    ops_client.post(
        reverse("admin:health_measure_changelist"),
        {"action": "deactivate", "_selected_action": [nps.pk]},
    )
    nps.refresh_from_db()
    assert nps.active is False


# --- the scorecard editor -------------------------------------------------------------------


def editor(client: Client, segment: str = "smb") -> Any:
    return client.get(EDITOR, {"segment": segment})


def row_of(response: Any, code: str) -> tuple[Any, Any]:
    """The (line, form) of measure ``code`` on the editor."""
    return next((ln, form) for ln, form, _ in response.context["rows"] if ln.measure.code == code)


def field(response: Any, code: str, name: str) -> str:
    return row_of(response, code)[1][name].html_name


def test_editor_shows_every_active_measure_with_its_effective_line(ops_client):
    Measure.objects.filter(code="csat").update(active=False)

    response = editor(ops_client)

    assert response.status_code == 200
    listed = [ln.measure.code for ln, _, _ in response.context["rows"]]
    assert "csat" not in listed and len(listed) == 11
    logins, logins_form = row_of(response, "logins-30d")  # SMB has its own line: 5 / 30
    assert (logins_form["red"].value(), logins_form["green"].value()) == (
        Decimal("5"),
        Decimal("30"),
    )
    assert logins.own is not None and logins_form["keep_own"].value() is True
    nps, nps_form = row_of(response, "nps")  # no SMB line: the default 0 / 40
    assert nps.own is None
    assert (nps_form["red"].value(), nps_form["weight"].value()) == (Decimal("0"), 10)
    assert nps_form["keep_own"].value() is False
    assert b"Default line (red / green / weight)" in response.content


def test_editor_of_the_default_card_shows_the_default_lines(ops_client):
    response = editor(ops_client, "default")

    _, logins_form = row_of(response, "logins-30d")
    assert (logins_form["red"].value(), logins_form["green"].value()) == (
        Decimal("20"),
        Decimal("100"),
    )
    assert "Own line" not in response.content.decode()


def test_saving_an_untouched_card_changes_nothing(ops_client):
    before = list(Threshold.objects.values_list("pk", "red", "green", "weight", "segment"))

    response = ops_client.post(f"{EDITOR}?segment=smb", form_data(editor(ops_client), "formset"))

    assert response.status_code == 302
    after = list(Threshold.objects.values_list("pk", "red", "green", "weight", "segment"))
    assert sorted(after) == sorted(before)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["The scorecard of SMB is unchanged."]


def test_a_changed_row_becomes_the_segments_own_line_and_the_rest_stay_on_default(ops_client):
    page = editor(ops_client)
    data = form_data(page, "formset", **{field(page, "nps", "weight"): "20"})
    lines_before = Threshold.objects.count()

    response = ops_client.post(f"{EDITOR}?segment=smb", data)

    assert response.status_code == 302
    own = line("nps", "smb")
    assert (own.red, own.green, own.weight) == (Decimal("0"), Decimal("40"), 20)
    assert Threshold.objects.count() == lines_before + 1  # only where it differs
    assert line("nps", None).weight == 10  # the default line is untouched
    assert LogEntry.objects.filter(object_id=str(own.pk), action_flag=ADDITION).exists()


def test_a_row_set_back_to_the_default_puts_the_segment_on_the_default_line(ops_client):
    page = editor(ops_client)
    logins = field(page, "logins-30d", "red")
    data = form_data(page, "formset", **{logins: "20", field(page, "logins-30d", "green"): "100"})
    data.pop(field(page, "logins-30d", "keep_own"))
    smb_line = line("logins-30d", "smb")

    response = ops_client.post(f"{EDITOR}?segment=smb", data)

    assert response.status_code == 302
    assert line("logins-30d", "smb") is None
    assert LogEntry.objects.filter(object_id=str(smb_line.pk), action_flag=DELETION).exists()


def test_own_line_ticked_keeps_a_line_equal_to_the_default(ops_client):
    page = editor(ops_client)
    data = form_data(page, "formset", **{field(page, "nps", "keep_own"): "on"})

    ops_client.post(f"{EDITOR}?segment=smb", data)

    own = line("nps", "smb")
    assert (own.red, own.green, own.weight) == (Decimal("0"), Decimal("40"), 10)


def test_an_emptied_row_removes_the_segments_own_line(ops_client):
    page = editor(ops_client)
    data = form_data(page, "formset")
    for name in ("red", "green", "weight", "keep_own"):
        data.pop(field(page, "company-size", name), None)

    ops_client.post(f"{EDITOR}?segment=smb", data)

    assert line("company-size", "smb") is None
    assert line("company-size", None) is not None


def test_the_default_card_changes_the_default_lines(ops_client):
    page = editor(ops_client, "default")
    data = form_data(page, "formset", **{field(page, "csat", "green"): "95"})

    response = ops_client.post(f"{EDITOR}?segment=default", data)

    assert response.status_code == 302
    assert line("csat", None).green == Decimal("95")
    entry = LogEntry.objects.get(object_id=str(line("csat", None).pk))
    assert entry.action_flag == CHANGE


@pytest.mark.parametrize(
    ("code", "name", "value", "message"),
    [
        ("nps", "weight", "101", "Enter a whole number from 0 to 100."),
        ("nps", "weight", "-1", "Enter a whole number from 0 to 100."),
        ("nps", "green", "-50", "Higher is better for this measure, so green must be above red."),
        (
            "open-tickets",
            "green",
            "50",
            "Lower is better for this measure, so green must be below red.",
        ),
        ("nps", "red", "", "This field is required."),  # a line is all three or none
    ],
)
def test_a_bad_row_shows_the_error_by_its_field_and_nothing_is_half_written(
    ops_client, code, name, value, message
):
    page = editor(ops_client)
    data = form_data(
        page,
        "formset",
        **{
            field(page, "csat", "weight"): "7",  # a valid change on another row
            field(page, code, name): value,
        },
    )
    before = sorted(Threshold.objects.values_list("pk", "red", "green", "weight", "segment"))

    response = ops_client.post(f"{EDITOR}?segment=smb", data)

    assert response.status_code == 200
    _, form = row_of(response, code)
    assert form.errors[name] == [message]
    assert b"Nothing was saved" in response.content
    after = sorted(Threshold.objects.values_list("pk", "red", "green", "weight", "segment"))
    assert after == before


def test_a_value_that_is_not_a_number_is_an_error_on_its_field(ops_client):
    page = editor(ops_client)
    data = form_data(page, "formset", **{field(page, "nps", "red"): "low"})

    response = ops_client.post(f"{EDITOR}?segment=smb", data)

    assert "red" in row_of(response, "nps")[1].errors
    assert line("nps", "smb") is None


def test_a_card_whose_measures_changed_meanwhile_is_not_saved(ops_client):
    page = editor(ops_client)
    data = form_data(page, "formset", **{field(page, "nps", "weight"): "20"})
    factories.ThresholdFactory(measure=factories.MeasureFactory(code="brand-new"))

    response = ops_client.post(f"{EDITOR}?segment=smb", data)

    assert response.status_code == 302
    assert line("nps", "smb") is None


def test_the_editor_needs_permission_to_change_lines(client, csm):
    csm.is_staff = True
    csm.save()
    client.force_login(csm)
    assert client.get(EDITOR).status_code == 403


def test_a_staff_member_who_is_not_a_cs_admin_is_refused_by_the_service(client, csm):
    csm.is_staff = True
    csm.save()
    csm.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_threshold", "view_threshold"])
    )
    client.force_login(csm)
    page = client.get(EDITOR, {"segment": "smb"})
    data = form_data(page, "formset", **{field(page, "nps", "weight"): "20"})

    response = client.post(f"{EDITOR}?segment=smb", data)

    assert response.status_code == 200
    assert b"Only CS operations admins may change the scorecard." in response.content
    assert line("nps", "smb") is None


def test_an_unknown_segment_goes_back_to_the_default_card(ops_client):
    response = ops_client.get(EDITOR, {"segment": "nope"}, follow=True)
    assert response.context["segment"] is None


def test_the_changelists_link_to_the_editor(ops_client):
    for model in ("threshold", "measure"):
        page = ops_client.get(reverse(f"admin:health_{model}_changelist"))
        assert EDITOR.encode() in page.content


def test_editor_queries_do_not_grow_with_the_measures(ops_client, django_assert_max_num_queries):
    editor(ops_client)  # warm up the session
    with django_assert_max_num_queries(5) as few:
        editor(ops_client)
    _lines(20)
    with django_assert_max_num_queries(5) as many:
        response = editor(ops_client)
    assert len(response.context["rows"]) == 32
    assert len(many) == len(few)


def test_scores_page_is_listed_newest_first(ops_client, account):
    for days in (3, 1, 2):
        HealthScore.objects.create(
            account=account,
            as_of=timezone.now().date() - dt.timedelta(days=days),
            score=50,
            band="yellow",
            coverage=Decimal("1"),
            computed_at=timezone.now(),
        )
    response = ops_client.get(reverse("admin:health_healthscore_changelist"))
    days = [score.as_of for score in response.context["cl"].result_list]
    assert days == sorted(days, reverse=True)
