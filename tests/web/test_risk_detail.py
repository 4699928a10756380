"""The risk detail page, its actions, and the edit page."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

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

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def risk(csm, account, low_usage) -> RiskRecord:
    return services.risk_open(
        user=csm,
        account=account,
        primary_cause=low_usage,
        summary="Usage halved since the champion left.",
        next_steps="Sponsor call on Monday.",
    )


def url(name: str, risk: RiskRecord) -> str:
    return reverse(f"risks:{name}", args=[risk.pk])


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def snapshot(risk: RiskRecord) -> tuple:
    """What a refused action must leave untouched."""
    risk.refresh_from_db()
    return (
        risk.status,
        risk.tier,
        risk.version,
        risk.summary,
        TimelineEvent.objects.filter(risk=risk).count(),
        Escalation.objects.filter(risk=risk).count(),
    )


def escalate_to_tier_2(risk: RiskRecord, manager) -> RiskRecord:
    services.escalation_request(user=manager, risk=risk, reason="Manager steps in.")
    return RiskRecord.objects.get(pk=risk.pk)


# --- the page -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["csm", "manager", "other_csm", "other_manager", "reviewer", "admin_user"]
)
def test_detail_page_renders_for_every_role(client, request, risk, role):
    client.force_login(request.getfixturevalue(role))

    response = client.get(url("detail", risk))

    html = response.content.decode()
    assert response.status_code == 200
    assert risk.account.name in html
    assert f'href="{reverse("customer_accounts:detail", args=[risk.account.pk])}"' in html
    assert "Tier 1 · CSM" in html and "Low usage" in html and "Adoption" in html
    assert "Usage halved since the champion left." in html and "Sponsor call on Monday." in html
    # The CSM's manager (maria) by full name, in the account facts.
    assert "<dt>Manager</dt><dd>Maria Example</dd>" in html


def test_detail_page_shows_the_account_facts(client, csm, risk):
    client.force_login(csm)

    html = client.get(url("detail", risk)).content.decode()

    account = risk.account
    for text in (
        "120,000",
        account.renewal_date.strftime("%-d %b %Y"),
        "in 120 days",
        "Europe (EMEA)",
        account.segment.name,
        str(account.csm),
        str(account.csm.manager),
        "Open for",
        "At tier 1 for",
    ):
        assert text in html, text


def _grow_timeline(risk: RiskRecord, csm, manager, events: int) -> None:
    """Events of several kinds and actors until the record has ``events`` of them."""
    services.escalation_request(user=manager, risk=risk, reason="Step in.")  # 2 events
    risk = services.risk_edit(
        user=csm, risk=risk.pk, version=RiskRecord.objects.get(pk=risk.pk).version, summary="New"
    )
    authors = [csm, manager]
    while TimelineEvent.objects.filter(risk=risk).count() < events:
        count = TimelineEvent.objects.filter(risk=risk).count()
        services.risk_add_note(user=authors[count % 2], risk=risk, text=f"Note {count}")


# The same ceiling for 5 and 50 events and tasks: a query per event (its
# actor, a cause) or per task (its owner) would blow it at 50. The tasks are
# one query, and the add-task form's list of people one more.
DETAIL_PAGE_QUERIES = 8


@pytest.mark.parametrize("events", [5, 50])
def test_detail_page_query_count_does_not_grow_with_the_timeline(
    client, django_assert_max_num_queries, csm, manager, risk, events
):
    _grow_timeline(risk, csm, manager, events)
    factories.EscalationFactory(risk=risk, status=EscalationStatus.PENDING, from_tier=2, to_tier=3)
    owners = [csm, manager]
    for index in range(events):
        factories.TaskFactory(risk=risk, owner=owners[index % 2], done_at=None)
    client.force_login(manager)

    with django_assert_max_num_queries(DETAIL_PAGE_QUERIES):
        response = client.get(url("detail", risk))

    assert response.status_code == 200
    assert response.content.decode().count('<li class="event-') == events


def test_timeline_lists_every_event_newest_first(client, csm, risk):
    services.risk_add_note(user=csm, risk=risk, text="First note")
    services.risk_add_note(user=csm, risk=risk, text="Second note")
    client.force_login(csm)

    html = client.get(url("detail", risk)).content.decode()

    assert html.index("Second note") < html.index("First note") < html.index("Filed at tier 1")
    assert html.count('<li class="event-') == 3


def test_timeline_renders_event_data_in_words(client, csm, manager, risk, defects):
    services.escalation_request(user=csm, risk=risk, reason="Need help.")
    pending = Escalation.objects.get(risk=risk)
    services.escalation_approve(user=manager, escalation=pending, note="Agreed.")
    risk = RiskRecord.objects.get(pk=risk.pk)
    risk = services.risk_edit(
        user=csm,
        risk=risk.pk,
        version=risk.version,
        summary="Usage is down to a third.",
        secondary_cause=defects,
        arr_at_risk="90000",
    )
    services.risk_close(
        user=csm, risk=risk.pk, outcome="saved", note="Renewed smaller.", arr_retained="60000"
    )
    client.force_login(csm)

    html = client.get(url("detail", risk)).content.decode()

    assert "Escalation requested" in html and "Tier 1 → 2" in html
    assert "Escalation approved" in html
    assert "Changed secondary cause, summary, ARR at risk" in html
    assert "Usage halved since the champion left." in html  # the "from" of the edit
    assert "Usage is down to a third." in html
    assert "Defects" in html and "90,000" in html
    assert "Outcome: Saved" in html and "USD 60,000 of USD 90,000 at risk" in html


# --- add a note -------------------------------------------------------------------------------


def test_csm_adds_a_note(client, csm, risk):
    client.force_login(csm)

    response = client.post(url("note", risk), {"text": "Called the sponsor."})

    assert response.status_code == 302
    assert response["Location"] == url("detail", risk)
    assert risk.events.filter(kind=TimelineKind.NOTE, text="Called the sponsor.").exists()
    assert "Note added to the timeline." in flash(response)


def test_adding_a_note_with_htmx_swaps_only_the_timeline(client, csm, risk):
    client.force_login(csm)

    response = client.post(url("note", risk), {"text": "Called the sponsor."}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card timeline-panel" id="timeline-panel"')
    assert "<html" not in html and "Causes and plan" not in html
    assert "Called the sponsor." in html
    assert 'hx-swap-oob="true"' in html and "Note added to the timeline." in html
    assert risk.events.filter(kind=TimelineKind.NOTE).count() == 1


def test_blank_note_with_htmx_shows_the_error_in_the_fragment(client, csm, risk):
    client.force_login(csm)

    response = client.post(url("note", risk), {"text": "  "}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps no 4xx answer
    assert 'id="note_text_error"' in html and "This field is required." in html
    assert 'id="action-note" open' in html
    assert not risk.events.filter(kind=TimelineKind.NOTE).exists()


def test_blank_note_without_htmx_is_a_400_with_the_error_next_to_the_field(client, csm, risk):
    client.force_login(csm)

    response = client.post(url("note", risk), {"text": ""})

    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="action-note" open' in html and 'id="note_text_error"' in html


def test_other_csm_posting_a_note_gets_403_and_nothing_is_written(client, other_csm, risk):
    before = snapshot(risk)
    client.force_login(other_csm)

    response = client.post(url("note", risk), {"text": "Not mine to write."})

    assert response.status_code == 403
    assert "their manager or an admin can add notes to this record" in response.content.decode()
    assert snapshot(risk) == before


def test_reviewer_sees_no_actions(client, reviewer, risk):
    client.force_login(reviewer)

    html = client.get(url("detail", risk)).content.decode()

    assert "You can read this record." in html
    for name in ("note", "escalate", "deescalate", "close", "edit"):
        assert f'action="{url(name, risk)}"' not in html
    assert f'href="{url("edit", risk)}"' not in html


# --- escalate ---------------------------------------------------------------------------------


def test_csm_requests_an_escalation_which_waits_for_the_manager(client, csm, risk):
    client.force_login(csm)

    response = client.post(url("escalate", risk), {"reason": "Sponsor went silent."})

    assert response.status_code == 302
    escalation = Escalation.objects.get(risk=risk)
    assert (escalation.status, escalation.to_tier) == (EscalationStatus.PENDING, 2)
    assert any("waits for the manager" in message for message in flash(response))
    page = client.get(url("detail", risk)).content.decode()
    assert "Escalation waiting for a decision" in page and "Sponsor went silent." in page


def test_manager_escalation_is_approved_at_once(client, manager, risk):
    client.force_login(manager)

    html = client.get(url("detail", risk)).content.decode()
    response = client.post(url("escalate", risk), {"reason": "I step in."})

    assert "Escalate</summary>" not in html and "Escalate to tier 2" in html
    risk.refresh_from_db()
    assert risk.tier == 2
    assert "Escalated to tier 2." in flash(response)


def test_blank_reason_is_a_400_with_the_error_next_to_the_field_and_the_block_open(
    client, csm, risk
):
    before = snapshot(risk)
    client.force_login(csm)

    response = client.post(url("escalate", risk), {"reason": "   "})

    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="action-escalate" open' in html
    block = html[
        html.index('id="action-escalate"') : html.index(
            "</details>", html.index('id="action-escalate"')
        )
    ]
    assert 'id="escalate_reason_error"' in block and "This field is required." in block
    assert snapshot(risk) == before


def test_escalation_is_not_offered_while_one_is_pending_or_at_tier_3(client, csm, manager, risk):
    client.force_login(csm)
    services.escalation_request(user=csm, risk=risk, reason="Help.")

    pending_page = client.get(url("detail", risk)).content.decode()
    services.escalation_approve(user=manager, escalation=Escalation.objects.get(risk=risk))
    services.escalation_request(user=manager, risk=risk, reason="Up again.")
    tier3_page = client.get(url("detail", risk)).content.decode()

    assert f'action="{url("escalate", risk)}"' not in pending_page
    assert "is waiting for a decision" in pending_page
    assert f'action="{url("escalate", risk)}"' not in tier3_page
    assert "At tier 3, the highest tier." in tier3_page


def test_escalating_while_one_is_pending_is_refused_with_a_message(client, csm, risk):
    services.escalation_request(user=csm, risk=risk, reason="Help.")
    before = snapshot(risk)
    client.force_login(csm)

    response = client.post(url("escalate", risk), {"reason": "Again."})

    assert response.status_code == 409
    assert "already waiting for a decision" in response.content.decode()
    assert snapshot(risk) == before


# --- approve / reject forms (posted to the approvals views) -----------------------------------


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("csm", False),
        ("other_csm", False),
        ("other_manager", False),
        ("reviewer", False),
        ("manager", True),
        ("admin_user", True),
    ],
)
def test_approve_and_reject_forms_are_shown_only_to_who_may_decide(
    client, request, csm, risk, role, visible
):
    escalation = services.escalation_request(user=csm, risk=risk, reason="Help.")
    client.force_login(request.getfixturevalue(role))

    html = client.get(url("detail", risk)).content.decode()

    approve = f'action="{reverse("risks:approve", args=[escalation.pk])}"'
    reject = f'action="{reverse("risks:reject", args=[escalation.pk])}"'
    assert (approve in html) is visible
    assert (reject in html) is visible
    if visible:
        assert f'name="next" value="{url("detail", risk)}"' in html
    assert "Help." in html  # everyone sees the pending request


# --- de-escalate ------------------------------------------------------------------------------


def test_manager_deescalates_with_a_note(client, manager, risk):
    risk = escalate_to_tier_2(risk, manager)
    client.force_login(manager)

    response = client.post(
        url("deescalate", risk),
        {"to_tier": "1", "note": "Sponsor is back.", "version": risk.version},
    )

    assert response.status_code == 302
    risk.refresh_from_db()
    assert risk.tier == 1
    assert "De-escalated to tier 1." in flash(response)
    assert risk.events.filter(kind=TimelineKind.DEESCALATED, text="Sponsor is back.").exists()


def test_deescalate_is_offered_to_the_manager_only_above_tier_1(client, csm, manager, risk):
    client.force_login(manager)
    at_tier_1 = client.get(url("detail", risk)).content.decode()
    risk = escalate_to_tier_2(risk, manager)
    at_tier_2 = client.get(url("detail", risk)).content.decode()
    client.force_login(csm)
    csm_page = client.get(url("detail", risk)).content.decode()

    form = f'action="{url("deescalate", risk)}"'
    assert form not in at_tier_1
    assert form in at_tier_2
    assert form not in csm_page


def test_csm_cannot_deescalate(client, csm, manager, risk):
    risk = escalate_to_tier_2(risk, manager)
    before = snapshot(risk)
    client.force_login(csm)

    response = client.post(
        url("deescalate", risk), {"to_tier": "1", "note": "Try.", "version": risk.version}
    )

    assert response.status_code == 403
    assert snapshot(risk) == before


def test_deescalate_without_a_note_is_a_400_with_the_error_next_to_the_field(client, manager, risk):
    risk = escalate_to_tier_2(risk, manager)
    before = snapshot(risk)
    client.force_login(manager)

    response = client.post(
        url("deescalate", risk), {"to_tier": "1", "note": "", "version": risk.version}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="action-deescalate" open' in html and 'id="deescalate_note_error"' in html
    assert snapshot(risk) == before


# --- close ------------------------------------------------------------------------------------


def test_close_as_saved_with_part_of_the_arr_retained(client, csm, risk):
    client.force_login(csm)

    response = client.post(
        url("close", risk),
        {
            "outcome": "saved",
            "note": "Renewed, smaller.",
            "arr_retained": "50000",
            "version": risk.version,
        },
    )

    assert response.status_code == 302
    risk.refresh_from_db()
    assert (risk.status, risk.arr_retained) == (RiskStatus.SAVED, Decimal("50000.00"))
    assert "Closed as saved. ARR retained: USD 50,000 of USD 120,000." in flash(response)


def test_close_as_saved_without_an_amount_retains_the_whole_arr_at_risk(client, csm, risk):
    client.force_login(csm)

    client.post(
        url("close", risk),
        {"outcome": "saved", "note": "Renewed.", "arr_retained": "", "version": risk.version},
    )

    risk.refresh_from_db()
    assert risk.arr_retained == risk.arr_at_risk


@pytest.mark.parametrize("outcome", ["churned", "withdrawn"])
def test_close_as_churned_or_withdrawn_retains_nothing(client, csm, risk, outcome):
    client.force_login(csm)

    response = client.post(
        url("close", risk),
        {"outcome": outcome, "note": "Over.", "arr_retained": "", "version": risk.version},
    )

    assert response.status_code == 302
    risk.refresh_from_db()
    assert (risk.status, risk.arr_retained) == (outcome, Decimal("0"))
    assert f"Closed as {outcome}." in flash(response)


def test_close_retaining_more_than_the_arr_at_risk_is_a_400_next_to_the_field(client, csm, risk):
    before = snapshot(risk)
    client.force_login(csm)

    response = client.post(
        url("close", risk),
        {"outcome": "saved", "note": "x", "arr_retained": "999999", "version": risk.version},
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="action-close" open' in html and 'id="close_arr_retained_error"' in html
    assert snapshot(risk) == before


def error_summary_links(html: str) -> list[str]:
    """The targets of the links in the page's error summary, in order."""
    start = html.index('class="error-summary"')
    block = html[start : html.index("</div>", start)]
    assert 'role="alert"' in html[html.rindex("<div", 0, start) : start + 100]
    return re.findall(r'href="#([^"]+)"', block)


def test_close_reports_every_error_at_once_with_a_linked_summary(client, csm, risk):
    before = snapshot(risk)
    client.force_login(csm)

    response = client.post(
        url("close", risk),
        {"outcome": "", "note": "", "arr_retained": "-1", "version": risk.version},
    )

    html = response.content.decode()
    assert response.status_code == 400
    for name in ("outcome", "note", "arr_retained"):
        assert f'id="close_{name}_error"' in html
    assert error_summary_links(html) == ["close_outcome_0", "close_note", "close_arr_retained"]
    assert 'id="close_outcome_0"' in html
    assert snapshot(risk) == before


def test_short_action_forms_have_no_error_summary(client, csm, risk):
    client.force_login(csm)

    response = client.post(url("note", risk), {"text": ""})

    html = response.content.decode()
    assert 'id="note_text_error"' in html
    assert 'class="error-summary"' not in html


def test_close_with_a_stale_version_is_refused_with_a_conflict_message(client, csm, manager, risk):
    stale_version = risk.version
    escalate_to_tier_2(risk, manager)  # someone else changes the record
    before = snapshot(risk)
    client.force_login(csm)

    response = client.post(
        url("close", risk),
        {"outcome": "churned", "note": "Gone.", "arr_retained": "", "version": stale_version},
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert "changed by someone else" in html
    assert 'id="action-close" open' in html
    # The form now carries the current version: sending it again is deliberate.
    assert f'name="version" value="{before[2]}"' in html
    assert snapshot(risk) == before


# --- closed records ---------------------------------------------------------------------------


def test_closed_record_shows_no_actions_and_refuses_every_post(client, csm, manager, risk):
    risk = escalate_to_tier_2(risk, manager)
    services.risk_close(user=csm, risk=risk, outcome="withdrawn", note="Raised in error.")
    before = snapshot(risk)
    client.force_login(manager)

    html = client.get(url("detail", risk)).content.decode()
    posts = {
        "note": {"text": "Late note."},
        "escalate": {"reason": "Up."},
        "deescalate": {"to_tier": "1", "note": "Down.", "version": before[2]},
        "close": {"outcome": "saved", "note": "x", "arr_retained": "", "version": before[2]},
    }
    responses = {name: client.post(url(name, risk), data) for name, data in posts.items()}
    edit = client.get(url("edit", risk))

    assert "This record is closed and read-only." in html
    assert "Raised in error." in html and "Outcome: Withdrawn" in html
    for name in (*posts, "edit"):
        assert f'action="{url(name, risk)}"' not in html
        assert f'href="{url(name, risk)}"' not in html
    for name, response in responses.items():
        assert response.status_code == 409, name
        assert "read-only" in response.content.decode(), name
    assert edit.status_code == 302 and edit["Location"] == url("detail", risk)
    assert snapshot(risk) == before


# --- edit -------------------------------------------------------------------------------------


def edit_data(risk: RiskRecord, **overrides) -> dict:
    data = {
        "primary_cause": risk.primary_cause_id,
        "secondary_cause": risk.secondary_cause_id or "",
        "summary": risk.summary,
        "next_steps": risk.next_steps,
        "arr_at_risk": str(risk.arr_at_risk),
        "version": risk.version,
    }
    data.update(overrides)
    return data


def test_edit_page_shows_the_record_in_the_form(client, csm, risk):
    client.force_login(csm)

    response = client.get(url("edit", risk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Usage halved since the champion left." in html
    assert f'name="version" value="{risk.version}"' in html
    assert 'class="cause-group"' in html


def test_edit_saves_the_changes_and_records_them(client, csm, risk, defects):
    client.force_login(csm)

    response = client.post(
        url("edit", risk),
        edit_data(risk, summary="Usage down to a third.", secondary_cause=defects.pk),
    )

    assert response.status_code == 302 and response["Location"] == url("detail", risk)
    risk.refresh_from_db()
    assert (risk.summary, risk.secondary_cause, risk.version) == (
        "Usage down to a third.",
        defects,
        2,
    )
    event = risk.events.get(kind=TimelineKind.EDITED)
    assert set(event.data["changed"]) == {"summary", "secondary_cause"}
    assert "Changes saved and recorded on the timeline." in flash(response)


def test_edit_with_secondary_equal_to_primary_shows_the_error_on_secondary(client, csm, risk):
    before = snapshot(risk)
    client.force_login(csm)

    response = client.post(
        url("edit", risk), edit_data(risk, secondary_cause=risk.primary_cause_id)
    )

    assert response.status_code == 400
    assert "secondary_cause" in response.context["form"].errors
    assert snapshot(risk) == before


def test_stale_edit_shows_what_differs_and_keeps_the_users_text(client, csm, manager, risk):
    loaded = edit_data(risk)  # the CSM opens the edit page at version 1 …
    services.risk_edit(  # … the manager saves first
        user=manager, risk=risk.pk, version=risk.version, summary="Manager's summary."
    )
    client.force_login(csm)

    response = client.post(
        url("edit", risk), {**loaded, "next_steps": "My new next steps.", "summary": "My summary."}
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert 'class="diff"' in html and "Current saved value" in html and "Your value" in html
    diff = html[html.index('class="diff"') : html.index("</section>", html.index('class="diff"'))]
    assert "Manager&#x27;s summary." in diff and "My summary." in diff
    assert "My new next steps." in diff
    assert "ARR at risk" not in diff  # unchanged on both sides
    # The user's text is kept in the form …
    assert ">\nMy summary.</textarea>" in html and ">\nMy new next steps.</textarea>" in html
    assert "Someone else saved changes to this record" in html
    # … nothing was overwritten …
    risk.refresh_from_db()
    assert (risk.summary, risk.version) == ("Manager's summary.", 2)
    # … and the form now carries the current version, so saving again overwrites deliberately.
    assert 'name="version" value="2"' in html
    again = client.post(
        url("edit", risk), {**loaded, "summary": "My summary.", "version": risk.version}
    )
    assert again.status_code == 302
    risk.refresh_from_db()
    assert risk.summary == "My summary."


class _FormValues(HTMLParser):
    """What a browser would post from the page's edit form: its inputs, checked
    radios and textareas (no selects on that form)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._in_form = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "form" and "edit-form" in (attributes.get("class") or ""):
            self._in_form = True
        if not self._in_form or not attributes.get("name"):
            return
        if tag == "input":
            if attributes.get("type") in ("radio", "checkbox") and "checked" not in attributes:
                return
            self.values[attributes["name"]] = attributes.get("value") or ""
        elif tag == "textarea":
            self._textarea = attributes["name"]
            self.values[self._textarea] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def edit_form_values(response) -> dict[str, str]:
    parser = _FormValues()
    parser.feed(response.content.decode())
    values = parser.values
    # A browser drops the newline right after <textarea> and posts CRLF line ends.
    for name in ("summary", "next_steps"):
        values[name] = values[name].removeprefix("\n").replace("\n", "\r\n")
    return values


def diff_section(html: str) -> str:
    start = html.index('class="diff"')
    return html[start : html.index("</section>", start)]


def test_stale_edit_proposes_only_the_fields_the_user_changed(client, csm, manager, risk):
    client.force_login(csm)
    loaded = edit_form_values(client.get(url("edit", risk)))  # the CSM opens the page …
    assert loaded["loaded_summary"] == risk.summary and loaded["version"] == "1"
    services.risk_edit(  # … the manager saves a new summary first …
        user=manager, risk=risk.pk, version=risk.version, summary="Manager's summary."
    )

    # … and the CSM, who only changed the next steps, saves.
    response = client.post(url("edit", risk), {**loaded, "next_steps": "My new next steps."})

    html = response.content.decode()
    assert response.status_code == 409
    diff = diff_section(html)
    assert "Next steps" in diff and "My new next steps." in diff
    assert "Summary" not in diff and "Manager&#x27;s summary." not in diff
    assert "Usage halved since the champion left." not in diff
    assert [d.label for d in response.context["differences"]] == ["Next steps"]
    # The form shows the saved summary, not the one the CSM loaded.
    assert ">\nManager&#x27;s summary.</textarea>" in html
    assert ">\nMy new next steps.</textarea>" in html
    risk.refresh_from_db()
    assert (risk.summary, risk.next_steps, risk.version) == (
        "Manager's summary.",
        "Sponsor call on Monday.",
        2,
    )

    # Saving again sends only the next steps: the manager's summary stays.
    again = client.post(url("edit", risk), edit_form_values(response))

    assert again.status_code == 302 and again["Location"] == url("detail", risk)
    risk.refresh_from_db()
    assert (risk.summary, risk.next_steps, risk.version) == (
        "Manager's summary.",
        "My new next steps.",
        3,
    )
    event = risk.events.filter(kind=TimelineKind.EDITED).order_by("-pk").first()
    assert set(event.data["changed"]) == {"next_steps"}


def test_stale_edit_saves_only_the_changed_field_even_when_the_user_also_saved_others(
    client, csm, manager, risk, defects
):
    """A save from a stale page (no conflict page in between, e.g. a field the
    other person did not touch) still never writes back the loaded values."""
    client.force_login(csm)
    loaded = edit_form_values(client.get(url("edit", risk)))
    services.risk_edit(
        user=manager,
        risk=risk.pk,
        version=risk.version,
        summary="Manager's summary.",
        arr_at_risk=Decimal("50000.00"),
    )
    fresh = edit_form_values(client.get(url("edit", risk)))

    # Loaded again after the manager's save: only the cause changes; nothing is stale.
    response = client.post(url("edit", risk), {**fresh, "secondary_cause": defects.pk})

    assert response.status_code == 302
    risk.refresh_from_db()
    assert (risk.summary, risk.arr_at_risk, risk.secondary_cause) == (
        "Manager's summary.",
        Decimal("50000.00"),
        defects,
    )
    # The stale page, unchanged, has nothing to save and overwrites nothing.
    unchanged = client.post(url("edit", risk), loaded)
    assert unchanged.status_code == 302
    assert "Nothing to save: no field was changed." in flash(unchanged)
    risk.refresh_from_db()
    assert risk.summary == "Manager's summary." and risk.version == 3


def test_edit_page_carries_the_loaded_values_with_line_breaks(client, csm, risk):
    services.risk_edit(
        user=csm, risk=risk.pk, version=risk.version, summary="First line.\nSecond line."
    )
    client.force_login(csm)

    values = edit_form_values(client.get(url("edit", risk)))
    response = client.post(
        url("edit", risk),
        {**values, "loaded_summary": values["loaded_summary"].replace("\n", "\r\n")},
    )

    assert values["loaded_summary"] == "First line.\nSecond line."
    assert response.status_code == 302
    assert "Nothing to save: no field was changed." in flash(response)


def test_edit_reports_every_error_at_once_with_a_linked_summary(client, csm, risk):
    before = snapshot(risk)
    client.force_login(csm)

    response = client.post(url("edit", risk), edit_data(risk, summary="", arr_at_risk="-5"))

    html = response.content.decode()
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"summary", "arr_at_risk"}
    assert 'id="id_summary_error"' in html and 'id="id_arr_at_risk_error"' in html
    assert error_summary_links(html) == ["id_summary", "id_arr_at_risk"]
    assert "novalidate" in html[html.index('class="card edit-form"') - 200 :][:400]
    assert snapshot(risk) == before


def test_inactive_cause_on_the_record_stays_selectable_when_editing(client, csm, risk, low_usage):
    RootCause.objects.filter(pk=low_usage.pk).update(active=False)
    client.force_login(csm)

    page = client.get(url("edit", risk)).content.decode()
    response = client.post(url("edit", risk), edit_data(risk, summary="Still low usage."))

    assert "Low usage (no longer in use)" in page
    assert response.status_code == 302
    risk.refresh_from_db()
    assert (risk.primary_cause, risk.summary) == (low_usage, "Still low usage.")


def test_other_csm_cannot_edit(client, other_csm, risk):
    before = snapshot(risk)
    client.force_login(other_csm)

    page = client.get(url("edit", risk))
    response = client.post(url("edit", risk), edit_data(risk, summary="Hijack."))

    assert page.status_code == 403 and response.status_code == 403
    assert "their manager or an admin can edit this record" in response.content.decode()
    assert snapshot(risk) == before


def test_htmx_note_on_a_record_closed_meanwhile_says_so_in_the_fragment(client, csm, risk):
    services.risk_close(user=csm, risk=risk, outcome="withdrawn", note="Done.")
    before = snapshot(risk)
    client.force_login(csm)

    response = client.post(url("note", risk), {"text": "Late."}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200  # so that htmx swaps it in
    assert 'hx-swap-oob="true"' in html and "read-only" in html
    assert f'action="{url("note", risk)}"' not in html
    assert snapshot(risk) == before
