"""The approval queue, the approve / reject endpoints, and the business-day
count behind the overdue highlighting."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from core import business_days
from risks import services
from risks.models import Escalation, EscalationStatus, RiskRecord, TimelineEvent, TimelineKind
from tests import factories

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
HTMX = {"HTTP_HX_REQUEST": "true"}


def at(day: str, time: str = "10:00", tz: dt.tzinfo = BERLIN) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=tz)


def row_htmx(escalation: Escalation) -> dict[str, str]:
    """Headers htmx sends from a queue row's form (hx-target="#escalation-<pk>")."""
    return {**HTMX, "HTTP_HX_TARGET": f"escalation-{escalation.pk}"}


def pending_escalation(csm, account, reason: str = "Needs the manager.") -> Escalation:
    """A tier-1 record of ``account`` with the CSM's request to go to tier 2."""
    risk = services.risk_open(
        user=csm,
        account=account,
        primary_cause=factories.RootCauseFactory(code="low-usage"),
        summary="Usage fell by half.",
        next_steps="Call the sponsor.",
    )
    return services.escalation_request(user=csm, risk=risk, reason=reason)


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def snapshot() -> tuple:
    """What a refused decision must leave untouched."""
    return (
        list(
            Escalation.objects.order_by("pk").values_list("status", "decided_by", "decision_note")
        ),
        list(RiskRecord.objects.order_by("pk").values_list("tier", "version")),
        TimelineEvent.objects.count(),
    )


@pytest.fixture
def escalation(csm, account) -> Escalation:
    return pending_escalation(csm, account)


# --- business days ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        # 2026-11-20 is a Friday; 2026-11-23 a Monday; 2026-11-25 a Wednesday.
        (at("2026-11-20"), at("2026-11-25"), 3),  # Friday → Wednesday: overdue
        (at("2026-11-23"), at("2026-11-25"), 2),  # Monday → Wednesday: not overdue
        (at("2026-11-20"), at("2026-11-25", "09:59"), 2),  # three days less a minute
        (at("2026-11-20"), at("2026-11-23"), 1),  # the weekend does not count
        (at("2026-11-20", "18:00"), at("2026-11-22", "23:00"), 0),  # Friday evening → Sunday
        (at("2026-11-21", "10:00"), at("2026-11-23", "23:59"), 0),  # asked on Saturday
        (at("2026-11-21", "10:00"), at("2026-11-24", "00:00"), 1),  # … a full Monday later
        (at("2026-11-23"), at("2026-12-07"), 10),  # two whole weeks
        (at("2026-11-25"), at("2026-11-23"), 0),  # end before start
    ],
)
def test_business_days_between_skips_weekends(start, end, days):
    assert business_days.business_days_between(start, end, BERLIN) == days


def test_business_days_are_counted_on_the_regions_wall_clock():
    # Thursday 20:00 → Friday 20:00 in New York is a full business day there;
    # in Berlin the same span ends on Saturday at 02:00, two hours into the weekend.
    start = at("2026-11-19", "20:00", NEW_YORK)
    end = at("2026-11-20", "20:00", NEW_YORK)
    assert business_days.business_days_between(start, end, "America/New_York") == 1
    assert business_days.business_days_between(start, end, "Europe/Berlin") == 0


def test_more_than_two_business_days_is_overdue():
    assert not business_days.is_overdue(2)
    assert business_days.is_overdue(3)


# --- the queue -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["csm", "reviewer"])
def test_approval_queue_is_refused_to_csms_and_reviewers(client, role, request):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("risks:approvals"))
    assert response.status_code == 403
    assert "Only managers and admins approve escalations." in response.content.decode()


@pytest.mark.django_db
def test_manager_queue_shows_their_team_only_oldest_first(
    client, manager, csm, account, other_csm, region
):
    newer = pending_escalation(csm, account)
    # The manager's own account counts as their team's (written directly: the
    # service would approve the manager's own request at once).
    own_risk = factories.RiskRecordFactory(account=factories.AccountFactory(csm=manager))
    older = factories.EscalationFactory(
        risk=own_risk, requested_at=newer.requested_at - dt.timedelta(days=1)
    )
    foreign = pending_escalation(
        other_csm, factories.AccountFactory(csm=other_csm, name="Other Co")
    )
    client.force_login(manager)

    response = client.get(reverse("risks:approvals"))

    assert response.status_code == 200
    assert [e.pk for e in response.context["escalations"]] == [older.pk, newer.pk]
    html = response.content.decode()
    assert f'id="escalation-{older.pk}"' in html
    assert f'id="escalation-{foreign.pk}"' not in html
    assert "Other Co" not in html
    assert reverse("risks:approve", args=[older.pk]) in html
    assert reverse("risks:reject", args=[older.pk]) in html
    assert 'name="region"' not in html  # the region filter is for admins


@pytest.mark.django_db
def test_admin_queue_shows_every_region_and_filters_by_region(client, admin_user, csm, account):
    na = factories.RegionFactory(code="NA", name="North America", timezone="America/New_York")
    na_csm = factories.CsmFactory(username="nina", region=na)
    na_account = factories.AccountFactory(csm=na_csm, region=na, name="Yankee Corp")
    emea = pending_escalation(csm, account)
    americas = pending_escalation(na_csm, na_account)
    client.force_login(admin_user)

    everything = client.get(reverse("risks:approvals"))
    only_na = client.get(reverse("risks:approvals"), {"region": "NA"})

    assert [e.pk for e in everything.context["escalations"]] == [emea.pk, americas.pk]
    assert [e.pk for e in only_na.context["escalations"]] == [americas.pk]
    assert 'name="region"' in everything.content.decode()


@pytest.mark.django_db
def test_escalation_waiting_more_than_two_business_days_is_highlighted(
    client, manager, escalation, monkeypatch
):
    Escalation.objects.filter(pk=escalation.pk).update(requested_at=at("2026-11-20"))  # Friday
    monkeypatch.setattr(
        business_days, "current_time", lambda: at("2026-11-25", "11:00")
    )  # Wednesday
    client.force_login(manager)

    html = client.get(reverse("risks:approvals")).content.decode()

    assert 'class="approval-row overdue-row"' in html
    assert "waiting 3 business days" in html
    assert '<span class="value">1</span> waiting more than 2 business days' in html


@pytest.mark.django_db
def test_escalation_waiting_two_business_days_is_not_highlighted(
    client, manager, escalation, monkeypatch
):
    Escalation.objects.filter(pk=escalation.pk).update(requested_at=at("2026-11-23"))  # Monday
    monkeypatch.setattr(
        business_days, "current_time", lambda: at("2026-11-25", "11:00")
    )  # Wednesday
    client.force_login(manager)

    html = client.get(reverse("risks:approvals")).content.decode()

    assert "overdue-row" not in html
    assert "waiting 2 business days" in html


def _team_escalations(manager, region, count: int) -> None:
    """``count`` pending escalations in ``manager``'s team, spread over several
    CSMs, causes and requesters so that a per-row query would show."""
    cause = factories.RootCauseFactory(code="low-usage")
    for index in range(count):
        csm = factories.CsmFactory(username=f"team-csm-{index % 7}", manager=manager, region=region)
        account = factories.AccountFactory(csm=csm, region=region)
        risk = factories.RiskRecordFactory(account=account, primary_cause=cause)
        factories.EscalationFactory(risk=risk, requested_by=csm)


# Session, user, the queue (one query for all its rows); an admin's page adds the regions.
MANAGER_QUEUE_QUERIES = 3
ADMIN_QUEUE_QUERIES = 4


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [5, 50])
def test_approval_queue_query_count_does_not_grow_with_rows(
    client, manager, region, rows, django_assert_max_num_queries
):
    _team_escalations(manager, region, rows)
    client.force_login(manager)
    with django_assert_max_num_queries(MANAGER_QUEUE_QUERIES):
        response = client.get(reverse("risks:approvals"))
    assert len(response.context["escalations"]) == rows


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [5, 50])
def test_admin_approval_queue_query_count_does_not_grow_with_rows(
    client, admin_user, manager, region, rows, django_assert_max_num_queries
):
    _team_escalations(manager, region, rows)
    client.force_login(admin_user)
    with django_assert_max_num_queries(ADMIN_QUEUE_QUERIES):
        response = client.get(reverse("risks:approvals"))
    assert len(response.context["escalations"]) == rows


# --- approve ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_manager_approves_without_javascript(client, manager, escalation):
    client.force_login(manager)
    queue = reverse("risks:approvals")

    response = client.post(
        reverse("risks:approve", args=[escalation.pk]), {"note": "Go ahead.", "next": queue}
    )

    assert response.status_code == 302
    assert response["Location"] == queue
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.APPROVED
    assert escalation.decided_by == manager
    assert escalation.decision_note == "Go ahead."
    assert RiskRecord.objects.get(pk=escalation.risk_id).tier == 2
    event = TimelineEvent.objects.get(
        risk=escalation.risk_id, kind=TimelineKind.ESCALATION_APPROVED
    )
    assert (event.actor, event.text) == (manager, "Go ahead.")
    assert flash(response) == [f"Approved: {escalation.risk.account} moves to tier 2."]


@pytest.mark.django_db
def test_approve_goes_back_to_the_risk_by_default(client, manager, escalation):
    client.force_login(manager)
    response = client.post(reverse("risks:approve", args=[escalation.pk]))
    assert response["Location"] == reverse("risks:detail", args=[escalation.risk_id])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "next_url", ["https://evil.example.com/", "//evil.example.com/x", "javascript:alert(1)"]
)
def test_next_pointing_to_another_host_is_ignored(client, manager, escalation, next_url):
    client.force_login(manager)
    response = client.post(reverse("risks:approve", args=[escalation.pk]), {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == reverse("risks:detail", args=[escalation.risk_id])


@pytest.mark.django_db
def test_admin_approves_any_region(client, admin_user, escalation):
    client.force_login(admin_user)
    client.post(reverse("risks:approve", args=[escalation.pk]))
    assert RiskRecord.objects.get(pk=escalation.risk_id).tier == 2


@pytest.mark.django_db
def test_approve_from_a_queue_row_with_htmx_returns_the_updated_row(client, manager, escalation):
    client.force_login(manager)

    response = client.post(
        reverse("risks:approve", args=[escalation.pk]),
        {"note": "", "next": reverse("risks:approvals")},
        **row_htmx(escalation),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="escalation-{escalation.pk}"')
    assert "Approved — now tier 2." in html
    assert reverse("risks:approve", args=[escalation.pk]) not in html  # the forms are gone
    assert "<html" not in html
    assert RiskRecord.objects.get(pk=escalation.risk_id).tier == 2
    # The row says it; a message would show up again on the next page.
    assert flash(response) == []


def counters(html: str) -> dict[str, str]:
    """The out-of-band counters of an htmx row response, by element id."""
    found = {}
    for element_id in ("approval-waiting", "approval-overdue"):
        start = html.index(f'id="{element_id}"')
        element = html[start : html.index("</li>", start)]
        assert 'hx-swap-oob="true"' in element
        found[element_id] = " ".join(re.sub(r"<[^>]+>", " ", element.split(">", 1)[1]).split())
    return found


@pytest.mark.django_db
def test_approving_in_place_updates_the_queue_counter(client, manager, csm, region):
    queue = [
        pending_escalation(csm, factories.AccountFactory(csm=csm, region=region)) for _ in range(3)
    ]
    client.force_login(manager)
    page = client.get(reverse("risks:approvals")).content.decode()
    assert 'id="approval-waiting"' in page
    assert "3</span> escalations waiting for a decision" in page

    response = client.post(
        reverse("risks:approve", args=[queue[0].pk]),
        {"note": "", "next": reverse("risks:approvals")},
        **row_htmx(queue[0]),
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="escalation-{queue[0].pk}"')
    # After the row, wrapped in <template> because the row is a <tr>.
    assert html.index("<template>") > html.index("</tr>")
    assert counters(html) == {
        "approval-waiting": "2 escalations waiting for a decision",
        "approval-overdue": "0 waiting more than 2 business days",
    }

    rejected = client.post(
        reverse("risks:reject", args=[queue[1].pk]),
        {"note": "Handle it at tier 1.", "next": reverse("home")},
        **row_htmx(queue[1]),
    )
    assert counters(rejected.content.decode())["approval-waiting"] == (
        "1 escalation waiting for a decision"
    )


@pytest.mark.django_db
def test_admin_counter_after_an_in_place_decision_keeps_the_region_filter(
    client, admin_user, csm, account
):
    na = factories.RegionFactory(code="NA", name="North America", timezone="America/New_York")
    na_csm = factories.CsmFactory(username="nina", region=na)
    emea = pending_escalation(csm, account)
    pending_escalation(na_csm, factories.AccountFactory(csm=na_csm, region=na))
    pending_escalation(na_csm, factories.AccountFactory(csm=na_csm, region=na))
    client.force_login(admin_user)

    filtered = client.post(
        reverse("risks:approve", args=[emea.pk]),
        {"note": "", "next": reverse("risks:approvals") + "?region=EMEA"},
        **row_htmx(emea),
    )

    assert counters(filtered.content.decode())["approval-waiting"] == (
        "0 escalations waiting for a decision"
    )
    home = client.get(reverse("home")).content.decode()
    assert "2</span> escalations waiting for a decision" in home


@pytest.mark.django_db
def test_approve_with_htmx_from_another_page_redirects_the_browser(client, manager, escalation):
    client.force_login(manager)
    detail = reverse("risks:detail", args=[escalation.risk_id])

    response = client.post(reverse("risks:approve", args=[escalation.pk]), {"next": detail}, **HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == detail
    assert flash(response) == [f"Approved: {escalation.risk.account} moves to tier 2."]


@pytest.mark.django_db
def test_get_on_approve_is_not_allowed(client, manager, escalation):
    client.force_login(manager)
    assert client.get(reverse("risks:approve", args=[escalation.pk])).status_code == 405


@pytest.mark.django_db
def test_approving_an_unknown_escalation_is_not_found(client, manager):
    client.force_login(manager)
    assert client.post(reverse("risks:approve", args=[987654])).status_code == 404


@pytest.mark.django_db
def test_other_teams_manager_cannot_approve(client, other_manager, escalation):
    client.force_login(other_manager)
    before = snapshot()

    response = client.post(reverse("risks:approve", args=[escalation.pk]))

    assert response.status_code == 403
    assert "Only the manager of the account&#x27;s CSM or an admin" in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_other_teams_manager_sees_the_refusal_in_the_row_with_htmx(
    client, other_manager, escalation
):
    client.force_login(other_manager)
    before = snapshot()

    response = client.post(reverse("risks:approve", args=[escalation.pk]), **row_htmx(escalation))

    assert response.status_code == 200
    assert "Only the manager of the account&#x27;s CSM or an admin" in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_csm_cannot_approve_own_escalation(client, csm, escalation):
    client.force_login(csm)
    before = snapshot()
    response = client.post(reverse("risks:approve", args=[escalation.pk]))
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.django_db
def test_reviewer_cannot_reject(client, reviewer, escalation):
    client.force_login(reviewer)
    before = snapshot()
    response = client.post(reverse("risks:reject", args=[escalation.pk]), {"note": "No."})
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.django_db
def test_second_approval_is_a_conflict_message(client, manager, admin_user, escalation):
    services.escalation_approve(user=admin_user, escalation=escalation)
    client.force_login(manager)
    before = snapshot()
    queue = reverse("risks:approvals")

    response = client.post(reverse("risks:approve", args=[escalation.pk]), {"next": queue})

    assert response.status_code == 302
    assert response["Location"] == queue
    assert flash(response) == [f"This escalation was already approved by {admin_user}."]
    assert snapshot() == before
    assert RiskRecord.objects.get(pk=escalation.risk_id).tier == 2


@pytest.mark.django_db
def test_second_approval_with_htmx_shows_the_conflict_in_the_row(
    client, manager, admin_user, escalation
):
    services.escalation_approve(user=admin_user, escalation=escalation)
    client.force_login(manager)

    response = client.post(reverse("risks:approve", args=[escalation.pk]), **row_htmx(escalation))

    html = response.content.decode()
    assert response.status_code == 200
    assert f"This escalation was already approved by {admin_user}." in html
    assert "status-approved" in html
    assert reverse("risks:approve", args=[escalation.pk]) not in html


# --- reject ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_manager_rejects_with_a_note_without_javascript(client, manager, escalation):
    client.force_login(manager)

    response = client.post(
        reverse("risks:reject", args=[escalation.pk]),
        {"note": "Try the exec sponsor first.", "next": "/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.REJECTED
    assert escalation.decision_note == "Try the exec sponsor first."
    assert RiskRecord.objects.get(pk=escalation.risk_id).tier == 1
    event = TimelineEvent.objects.get(
        risk=escalation.risk_id, kind=TimelineKind.ESCALATION_REJECTED
    )
    assert event.text == "Try the exec sponsor first."
    assert flash(response)[0].startswith(f"Rejected: {escalation.risk.account} stays at tier 1.")


@pytest.mark.django_db
@pytest.mark.parametrize("note", ["", "   "])
def test_reject_without_a_note_shows_the_error_next_to_the_field(client, manager, escalation, note):
    client.force_login(manager)
    before = snapshot()

    response = client.post(
        reverse("risks:reject", args=[escalation.pk]), {"note": note, "next": "/"}
    )

    assert response.status_code == 400
    assert "risks/reject.html" in [t.name for t in response.templates]
    html = response.content.decode()
    field = html[html.index('id="field-id_note"') :]
    field = field[: field.index("</textarea>")]
    assert "Say why the escalation is rejected." in field
    assert 'name="next" value="/"' in html  # the page keeps where to go afterwards
    assert snapshot() == before


@pytest.mark.django_db
def test_reject_without_a_note_in_a_queue_row_keeps_the_row_with_the_error(
    client, manager, escalation
):
    client.force_login(manager)
    before = snapshot()

    response = client.post(
        reverse("risks:reject", args=[escalation.pk]), {"note": " "}, **row_htmx(escalation)
    )

    assert response.status_code == 200  # htmx 2 swaps only 2xx responses
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="escalation-{escalation.pk}"')
    error = html.index("Say why the escalation is rejected.")
    assert html.index(f'for="reject-note-{escalation.pk}"') < error
    assert error < html.index(f'id="reject-note-{escalation.pk}"')
    assert snapshot() == before


@pytest.mark.django_db
def test_reject_from_a_queue_row_with_htmx(client, manager, escalation):
    client.force_login(manager)

    response = client.post(
        reverse("risks:reject", args=[escalation.pk]),
        {"note": "Not yet."},
        **row_htmx(escalation),
    )

    assert response.status_code == 200
    assert "Rejected — stays at tier 1." in response.content.decode()
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.REJECTED


@pytest.mark.django_db
def test_reject_page_shows_the_escalation_and_a_note_field(client, manager, escalation):
    client.force_login(manager)

    response = client.get(
        reverse("risks:reject", args=[escalation.pk]), {"next": reverse("risks:approvals")}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert escalation.risk.account.name in html
    assert "Needs the manager." in html
    assert 'name="note"' in html
    assert f'name="next" value="{reverse("risks:approvals")}"' in html


@pytest.mark.django_db
def test_reject_page_of_a_decided_escalation_has_no_form(client, manager, escalation):
    services.escalation_approve(user=manager, escalation=escalation)
    client.force_login(manager)
    html = client.get(reverse("risks:reject", args=[escalation.pk])).content.decode()
    assert "already approved" in html
    assert 'name="note"' not in html


@pytest.mark.django_db
def test_reject_page_is_refused_to_other_teams_manager(client, other_manager, escalation):
    client.force_login(other_manager)
    response = client.get(reverse("risks:reject", args=[escalation.pk]))
    assert response.status_code == 403
    assert "Only the manager of the account&#x27;s CSM or an admin" in response.content.decode()


@pytest.mark.django_db
def test_rejecting_a_decided_escalation_is_a_conflict_message(client, manager, escalation):
    services.escalation_reject(user=manager, escalation=escalation, note="No.")
    client.force_login(manager)
    before = snapshot()

    response = client.post(reverse("risks:reject", args=[escalation.pk]), {"note": "Again."})

    assert response.status_code == 302
    assert flash(response) == [f"This escalation was already rejected by {manager}."]
    assert snapshot() == before


@pytest.mark.django_db
def test_an_encoded_nul_in_the_next_link_of_an_in_place_decision_is_harmless(
    client, admin_user, escalation
):
    client.force_login(admin_user)

    response = client.post(
        reverse("risks:approve", args=[escalation.pk]),
        # The form value is the text "%00": no NUL reaches the guard, but the
        # query string inside it decodes to one.
        {"next": "/risks/approvals/?region=%00", "note": ""},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET=f"escalation-{escalation.pk}",
    )

    assert response.status_code == 200
