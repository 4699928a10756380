"""The risk rule pages: who may see and do what, the editor (conditions built
from menus, errors beside the input they are about, the preview before
saving, a concurrent change), switching a rule on and off, deleting it,
"evaluate now", and the rules holding for an account on its page."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Region, Segment
from health.models import Measure
from risks.models import RiskRecord, RiskStatus, RootCause
from rules import services
from rules.evaluation import SYSTEM_USERNAME
from rules.models import Outcome, Rule, RuleMatch
from tests import factories
from tests.rules.conftest import event, number, observe, scored

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST_URL = reverse("rules:index")
NEW_URL = reverse("rules:new")


def today() -> dt.date:
    return timezone.localdate()


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def text(response) -> str:
    return html_lib.unescape(response.content.decode())


def beside(response, name: str) -> str:
    """The errors shown in the field block of the input ``name``."""
    page = response.content.decode()
    start = page.index(f'id="field-id_{name}"')
    end = page.find('id="field-', start + 10)
    block = page[start : end if end > 0 else None]
    errors = re.findall(r'<div class="field-error"[^>]*>(.*?)</div>', block, re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", " ".join(errors))).strip()


def above_the_conditions(response) -> str:
    page = response.content.decode()
    section = page[page.index('id="conditions"') : page.index('class="condition-rows"')]
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", section))


@pytest.fixture
def enterprise() -> Segment:
    return Segment.objects.get(code="enterprise")


@pytest.fixture
def smb() -> Segment:
    return Segment.objects.get(code="smb")


@pytest.fixture
def logins() -> Measure:
    return number("logins", name="Weekly logins")


@pytest.fixture
def escalation() -> Measure:
    return event("exec-escalation", name="Executive escalation")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def form_data(cause: RootCause | None = None, **fields) -> dict:
    """The editor's fields as a browser sends them: one band condition,
    the other rows left at "—"."""
    data = {
        "name": "Red enterprise accounts",
        "description": "",
        "segment": "",
        "region": "",
        "primary_cause": str(cause.pk) if cause else "",
        "actions": ["open_risk"],
        "c1_type": "band_is",
        "c1_band": "red",
        "c2_type": "",
        "c3_type": "",
        "intent": "save",
    }
    data.update(fields)
    return data


def make_rule(user, cause: RootCause, **values) -> Rule:
    defaults = {
        "name": "Red accounts",
        "conditions": [{"type": "band_is", "band": "red"}],
        "actions": ["open_risk"],
        "primary_cause": cause,
    }
    return services.rule_create(user=user, values={**defaults, **values})


# --- who may see and do what --------------------------------------------------------------

ROLES = ["anonymous", "csm", "manager", "reviewer", "admin"]
EVERYONE = {"csm", "manager", "reviewer", "admin"}
ADMINS = {"admin"}

# (name, method, allowed roles, status when allowed)
CELLS = [
    ("list", "get", EVERYONE, 200),
    ("detail", "get", EVERYONE, 200),
    ("account_page", "get", EVERYONE, 200),
    ("new_form", "get", ADMINS, 200),
    ("new_save", "post", ADMINS, 302),
    ("new_preview", "post", ADMINS, 200),
    ("new_preview_htmx", "post", ADMINS, 200),
    ("edit_form", "get", ADMINS, 200),
    ("edit_save", "post", ADMINS, 302),
    ("edit_preview", "post", ADMINS, 200),
    ("activate", "post", ADMINS, 302),
    ("delete", "post", ADMINS, 302),
    ("evaluate", "post", ADMINS, 302),
    ("evaluate_htmx", "post", ADMINS, 200),
]


@pytest.fixture
def people(csm, manager, reviewer, admin_user):
    return {"csm": csm, "manager": manager, "reviewer": reviewer, "admin": admin_user}


@pytest.fixture
def scene(people, account, low_usage):
    """An inactive rule (never matched) and an active one that matches the
    account, which is red today."""
    scored(account, today(), 30, "red")
    quiet = make_rule(people["admin"], low_usage, name="Quiet rule")
    active = make_rule(people["admin"], low_usage, name="Red accounts everywhere")
    services.rule_update(user=people["admin"], rule=active, values={"active": True})
    return {"quiet": Rule.objects.get(pk=quiet.pk), "active": active, "account": account}


def state() -> tuple:
    """What a refused request must leave as it was."""
    return (
        tuple(Rule.objects.order_by("pk").values_list("pk", "name", "active", "version")),
        RuleMatch.objects.count(),
        RiskRecord.objects.count(),
    )


def _request(client, name: str, method: str, scene, low_usage):
    quiet = scene["quiet"]
    edit_url = reverse("rules:edit", args=[quiet.pk])
    targets = {
        "list": (LIST_URL, {}, {}),
        "detail": (reverse("rules:detail", args=[quiet.pk]), {}, {}),
        "account_page": (
            reverse("customer_accounts:detail", args=[scene["account"].pk]),
            {},
            {},
        ),
        "new_form": (NEW_URL, {}, {}),
        "new_save": (NEW_URL, form_data(low_usage, name="A new rule"), {}),
        "new_preview": (NEW_URL, form_data(low_usage, intent="preview"), {}),
        "new_preview_htmx": (NEW_URL, form_data(low_usage, intent="preview"), HTMX),
        "edit_form": (edit_url, {}, {}),
        "edit_save": (
            edit_url,
            form_data(low_usage, name="Quiet rule, renamed", version=quiet.version),
            {},
        ),
        "edit_preview": (edit_url, form_data(low_usage, intent="preview"), {}),
        "activate": (
            reverse("rules:active", args=[quiet.pk]),
            {"active": "1", "version": quiet.version},
            {},
        ),
        "delete": (reverse("rules:delete", args=[quiet.pk]), {}, {}),
        "evaluate": (reverse("rules:evaluate"), {}, {}),
        "evaluate_htmx": (reverse("rules:evaluate"), {}, HTMX),
    }
    url, data, headers = targets[name]
    return getattr(client, method)(url, data, **headers)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method", "allowed", "status"), CELLS, ids=[c[0] for c in CELLS])
def test_role_can_or_cannot(client, people, scene, low_usage, role, name, method, allowed, status):
    if role != "anonymous":
        client.force_login(people[role])
    before = state()

    response = _request(client, name, method, scene, low_usage)

    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        assert state() == before
    elif role in allowed:
        assert response.status_code == status, response.content.decode()[:500]
        if method == "post" and "preview" not in name:
            assert state() != before
        else:
            assert state() == before
    else:
        assert response.status_code == 403
        assert "Only CS operations admins" in text(response)
        assert state() == before


def test_the_nav_links_the_rules_for_everyone(client, csm):
    client.force_login(csm)
    page = client.get(reverse("home")).content.decode()
    assert f'href="{LIST_URL}"' in page

    page = client.get(LIST_URL).content.decode()
    assert f'<a href="{LIST_URL}" aria-current="page">Rules</a>' in page


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_each_rule_in_words_with_its_counts(
    client, admin_user, csm, low_usage, logins, enterprise, region, account
):
    scoped = make_rule(
        admin_user,
        low_usage,
        name="Red enterprise in EMEA",
        segment=enterprise.pk,
        region=region.pk,
        conditions=[
            {"type": "band_is", "band": "red"},
            {"type": "measure_below", "measure": "logins", "value": 10},
        ],
        actions=["open_risk", "notify"],
    )
    services.rule_update(user=admin_user, rule=scoped, values={"active": True})
    make_rule(
        admin_user,
        low_usage,
        name="Renewal soon",
        conditions=[{"type": "renewal_within", "days": 60}],
        actions=["notify"],
        primary_cause=None,
    )
    now = timezone.now()
    other = factories.AccountFactory(csm=csm)
    for when, cleared, whose in [
        (now - dt.timedelta(days=2), None, account),  # recent, holding
        (now - dt.timedelta(days=10), now, other),  # recent, cleared
        (now - dt.timedelta(days=40), now, account),  # older, cleared
    ]:
        RuleMatch.objects.create(
            rule=scoped, account=whose, matched_at=when, as_of=when.date(), cleared_at=cleared
        )
    client.force_login(csm)

    response = client.get(LIST_URL)

    assert response.status_code == 200
    page = text(response)
    row = page[page.index(f'data-rule="{scoped.pk}"') :].split("</tr>")[0]
    assert "Red enterprise in EMEA" in row
    assert "Active" in row
    assert "Enterprise segment · Europe (EMEA)" in row
    assert "health is red; and Weekly logins below 10" in row
    assert "Open a tier-1 risk record; Email the CSM and their manager" in row
    assert re.findall(r'class="num"[^>]*>(\d+)</td>', row) == ["2", "1"]
    renewal = page[page.index("Renewal soon") :].split("</tr>")[0]
    assert "Inactive" in renewal and "All accounts" in renewal
    assert "renewal within 60 days" in renewal
    # Active rules first.
    assert page.index("Red enterprise in EMEA") < page.index("Renewal soon")
    # A CSM reads; only admins create and evaluate.
    assert "New rule" not in page and "Evaluate now" not in page


def test_admins_see_new_rule_and_evaluate_now(admin_client):
    page = admin_client.get(LIST_URL).content.decode()
    assert f'href="{NEW_URL}"' in page
    assert "Evaluate now" in page
    assert "No risk rule yet." in page


@pytest.mark.parametrize("count", [2, 10])
def test_the_list_takes_the_same_queries_for_2_and_10_rules(
    admin_client, admin_user, low_usage, logins, account, count
):
    for n in range(count):
        rule = make_rule(
            admin_user,
            low_usage,
            name=f"Rule {n}",
            conditions=[
                {"type": "band_is", "band": "red"},
                {"type": "measure_below", "measure": "logins", "value": n + 1},
            ],
        )
        RuleMatch.objects.create(
            rule=rule, account=account, matched_at=timezone.now(), as_of=today()
        )

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(LIST_URL)

    assert response.status_code == 200
    assert len(response.context["rules"]) == count
    # session, user, the rules with their counts, the measures' names
    assert len(queries) == 4


def _rule_page_queries(client, user, cause, csm, count: int) -> int:
    """Queries of a rule's page with `count` matches, each of which opened a
    record, and at least as many red accounts in its preview."""
    rule = make_rule(user, cause, name=f"Red {count}")
    for n in range(count):
        account = factories.AccountFactory(name=f"Red {count}-{n}", csm=csm)
        scored(account, today(), 20, "red")
        RuleMatch.objects.create(
            rule=rule,
            account=account,
            matched_at=timezone.now(),
            as_of=today(),
            evidence=[{"type": "band_is", "band": "red", "score": 20}],
            risk=factories.RiskRecordFactory(account=account),
            outcome="opened",
            acted_at=timezone.now(),
        )
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("rules:detail", args=[rule.pk]))
    assert response.status_code == 200
    assert len(response.context["recent"]) == count
    # Red accounts of an earlier call match too.
    assert response.context["preview"].count >= count
    return len(queries)


def test_a_rule_page_takes_the_same_queries_for_2_and_10_matches(
    admin_client, admin_user, low_usage, csm
):
    few = _rule_page_queries(admin_client, admin_user, low_usage, csm, 2)
    many = _rule_page_queries(admin_client, admin_user, low_usage, csm, 10)
    assert few == many


# --- the editor: creating a rule -------------------------------------------------------------


def test_the_editor_offers_menus_for_every_condition_row(admin_client, logins, escalation):
    page = text(admin_client.get(NEW_URL))

    for row in (1, 2, 3):
        assert f'name="c{row}_type"' in page
        for parameter in ("measure", "band", "value", "percent", "points", "days"):
            assert f'name="c{row}_{parameter}"' in page
    # The first row always has a condition; the others may be left at "—".
    first = page[page.index('name="c1_type"') :].split("</select>")[0]
    second = page[page.index('name="c2_type"') :].split("</select>")[0]
    assert "—" not in first and '<option value="" selected>—</option>' in second
    assert '<option value="measure_change_below">Measure changed by less than</option>' in first
    # Every active measure, with its kind.
    assert '<option value="logins">Weekly logins (number)</option>' in page
    assert '<option value="exec-escalation">Executive escalation (event)</option>' in page
    assert "js/rules.js" in page
    assert "New risk rule" in page


def test_creating_a_rule_through_the_form(
    admin_client, admin_user, low_usage, logins, enterprise, region
):
    response = admin_client.post(
        NEW_URL,
        form_data(
            low_usage,
            name="  Quiet   enterprise accounts ",
            description="Logins fell and the band is red.",
            segment=str(enterprise.pk),
            region=str(region.pk),
            actions=["open_risk", "notify"],
            c1_band="red",
            # Parameters the type does not take are ignored.
            c1_days="30",
            c1_value="99",
            c2_type="measure_below",
            c2_measure="logins",
            c2_value="12.5",
            c3_type="score_drop",
            c3_points="20",
            c3_days="30",
        ),
    )

    rule = Rule.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("rules:detail", args=[rule.pk])
    assert rule.name == "Quiet enterprise accounts"
    assert rule.description == "Logins fell and the band is red."
    assert (rule.segment, rule.region, rule.primary_cause) == (enterprise, region, low_usage)
    assert rule.actions == ["open_risk", "notify"]
    assert rule.conditions == [
        {"type": "band_is", "band": "red"},
        {"type": "measure_below", "measure": "logins", "value": 12.5},
        {"type": "score_drop", "points": 20, "days": 30},
    ]
    assert rule.active is False
    assert rule.created_by == admin_user
    assert flash(response) == [
        "Rule \u201cQuiet enterprise accounts\u201d saved. It is off: check what it matches "
        "below, then switch it on."
    ]


def test_a_skipped_row_is_left_out(admin_client, low_usage):
    response = admin_client.post(
        NEW_URL,
        form_data(low_usage, c3_type="renewal_within", c3_days="90"),
    )

    assert response.status_code == 302
    assert Rule.objects.get().conditions == [
        {"type": "band_is", "band": "red"},
        {"type": "renewal_within", "days": 90},
    ]


# --- the editor: errors beside their fields ----------------------------------------------------


def test_a_percent_out_of_range_shows_beside_row_2s_percent(admin_client, low_usage, logins):
    response = admin_client.post(
        NEW_URL,
        form_data(
            low_usage,
            c2_type="measure_change_below",
            c2_measure="logins",
            c2_percent="-150",
        ),
    )

    assert response.status_code == 400
    assert beside(response, "c2_percent") == "Enter a number greater than -100 and less than 10000."
    assert beside(response, "c1_band") == ""
    assert beside(response, "c2_measure") == ""
    page = text(response)
    assert "Condition 2, change (%): Enter a number greater than -100" in page  # the summary
    assert 'href="#id_c2_percent"' in page
    # The form keeps what was typed.
    assert 'name="c2_percent" value="-150"' in page
    assert not Rule.objects.exists()


def test_an_unknown_measure_shows_beside_its_menu(admin_client, low_usage):
    response = admin_client.post(
        NEW_URL, form_data(low_usage, c1_type="measure_below", c1_measure="nope", c1_value="3")
    )

    assert response.status_code == 400
    assert beside(response, "c1_measure") == "No measure has the code 'nope'."
    assert not Rule.objects.exists()


def test_a_measure_of_the_wrong_kind_shows_the_services_words(
    admin_client, low_usage, logins, escalation
):
    response = admin_client.post(
        NEW_URL,
        form_data(
            low_usage,
            c1_type="event_within",
            c1_measure="logins",
            c1_days="14",
            c2_type="measure_above",
            c2_measure="exec-escalation",
            c2_value="1",
        ),
    )

    assert response.status_code == 400
    assert beside(response, "c1_measure") == (
        "Weekly logins is a number; event_within needs an event measure."
    )
    assert beside(response, "c2_measure") == (
        "Executive escalation is an event; measure_above needs a number measure."
    )


def test_errors_of_row_3_go_to_row_3_when_row_2_is_empty(admin_client, low_usage):
    response = admin_client.post(
        NEW_URL, form_data(low_usage, c3_type="score_drop", c3_points="500", c3_days="")
    )

    assert response.status_code == 400
    assert beside(response, "c3_points") == "Enter a whole number from 1 to 100."
    assert beside(response, "c3_days") == "This field is required."
    assert beside(response, "c2_points") == ""


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            {"c2_type": "band_is", "c2_band": "green"},
            "The band cannot be both red and green.",
        ),
        (
            {
                "c1_type": "measure_below",
                "c1_measure": "logins",
                "c1_value": "5",
                "c2_type": "measure_above",
                "c2_measure": "logins",
                "c2_value": "10",
            },
            "logins cannot be below 5 and above 10 at once.",
        ),
    ],
    ids=["two bands", "below and above"],
)
def test_a_contradictory_pair_shows_above_the_rows(admin_client, low_usage, logins, rows, message):
    response = admin_client.post(NEW_URL, form_data(low_usage, **rows))

    assert response.status_code == 400
    assert message in above_the_conditions(response)
    assert f"Conditions: {message}" in text(response)  # the summary, linking to the rows
    assert 'href="#conditions"' in response.content.decode()
    assert not Rule.objects.exists()


def test_the_rules_own_fields_show_their_errors_too(admin_client, admin_user, low_usage):
    make_rule(admin_user, low_usage, name="Taken")
    response = admin_client.post(
        NEW_URL, form_data(None, name="taken", segment="999999", actions=["open_risk"])
    )

    assert response.status_code == 400
    assert beside(response, "name") == "Another rule has this name."
    assert beside(response, "segment") == "No segment has the id '999999'."
    assert beside(response, "primary_cause") == (
        "A rule that opens risk records needs their primary cause."
    )

    response = admin_client.post(NEW_URL, form_data(low_usage, name="", actions=[]))
    assert beside(response, "name") == "This field is required."
    assert beside(response, "actions").startswith("Choose at least one action")


# --- the editor: preview -------------------------------------------------------------------------


@pytest.fixture
def red_enterprise(csm, enterprise, smb):
    """Worked out by hand for "band is red, and the score fell 20+ points in
    30 days, enterprise only": Atlas and Borealis match (Borealis first, its
    ARR is larger); Cygnus is red but its score held; Draco is red but in
    SMB; Eridanus fell but is green; Fornax matched but churned."""
    d, before = today(), today() - dt.timedelta(days=30)
    accounts = {}
    for name, segment, arr, was, now, band in [
        ("Atlas", enterprise, "300000", 70, 35, "red"),
        ("Borealis", enterprise, "900000", 62, 38, "red"),
        ("Cygnus", enterprise, "1000000", 40, 36, "red"),
        ("Draco", smb, "500000", 80, 20, "red"),
        ("Eridanus", enterprise, "400000", 95, 72, "green"),
        ("Fornax", enterprise, "800000", 70, 30, "red"),
    ]:
        account = factories.AccountFactory(
            name=name, segment=segment, arr=Decimal(arr), csm=csm, region=csm.region
        )
        scored(account, before, was, "green" if was >= 60 else "red")
        scored(account, d, now, band)
        accounts[name] = account
    accounts["Fornax"].status = "churned"
    accounts["Fornax"].churned_on = d
    accounts["Fornax"].save()
    return accounts


def preview_data(cause, enterprise, **fields) -> dict:
    rows = {
        "intent": "preview",
        "segment": str(enterprise.pk),
        "c2_type": "score_drop",
        "c2_points": "20",
        "c2_days": "30",
    }
    return form_data(cause, **{**rows, **fields})


def test_the_preview_shows_what_the_rule_would_match_without_saving_it(
    admin_client, low_usage, enterprise, red_enterprise
):
    response = admin_client.post(NEW_URL, preview_data(low_usage, enterprise))

    assert response.status_code == 200
    assert not Rule.objects.exists()
    page = text(response)
    preview = page[page.index('id="rule-preview"') :]
    assert f"2 accounts match as of {today():%-d %b %Y}, the largest ARR first." in preview
    assert preview.index("Borealis") < preview.index("Atlas")
    for absent in ("Cygnus", "Draco", "Eridanus", "Fornax"):
        assert absent not in preview
    assert "Health is red (score 38)." in preview
    assert (
        "Health score fell 24 points in 30 days (62 \u2192 38; the rule looks for 20 or more)."
        in (preview)
    )
    assert (
        "Health score fell 35 points in 30 days (70 \u2192 35; the rule looks for 20 or more)."
        in (preview)
    )
    assert reverse("customer_accounts:detail", args=[red_enterprise["Atlas"].pk]) in preview
    # The full page, with the form as it was typed: saving it is one click away.
    assert 'name="c2_points" value="20"' in page
    assert "<!doctype html>" in page


def test_the_preview_swaps_the_editor_in_place_with_htmx(
    admin_client, low_usage, enterprise, red_enterprise
):
    response = admin_client.post(NEW_URL, preview_data(low_usage, enterprise), **HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="rule-editor">')
    assert "<!doctype html>" not in body
    assert "2 accounts match" in body
    assert 'hx-target="#rule-editor"' in body  # the next preview swaps the same block


def test_a_preview_of_a_wrong_condition_shows_the_error_beside_it(
    admin_client, low_usage, enterprise
):
    response = admin_client.post(
        NEW_URL,
        preview_data(low_usage, enterprise, c2_points="0", name="", actions=[]),
        **HTMX,
    )

    # htmx swaps no 4xx answer: the errors come back in the editor with a 200.
    assert response.status_code == 200
    assert beside(response, "c2_points") == "Enter a whole number from 1 to 100."
    # The preview judges the scope and the conditions only.
    assert beside(response, "name") == ""
    assert "accounts match" not in response.content.decode()


def test_no_match_says_so(admin_client, low_usage):
    response = admin_client.post(NEW_URL, form_data(low_usage, intent="preview"))

    assert f"No active account matches as of {today():%-d %b %Y}." in text(response)


# --- the editor: changing a rule --------------------------------------------------------------


def test_the_edit_form_shows_the_rule_and_saves_a_change(
    admin_client, admin_user, low_usage, logins
):
    rule = make_rule(
        admin_user,
        low_usage,
        conditions=[
            {"type": "band_is", "band": "red"},
            {"type": "measure_change_below", "measure": "logins", "percent": -30.5},
        ],
    )
    url = reverse("rules:edit", args=[rule.pk])

    page = text(admin_client.get(url))
    assert 'name="name" value="Red accounts"' in page
    assert '<option value="measure_change_below" selected>' in page
    assert 'name="c2_percent" value="-30.5"' in page
    assert f'name="version" value="{rule.version}"' in page

    response = admin_client.post(
        url,
        form_data(
            low_usage,
            name="Red accounts",
            version=rule.version,
            c2_type="measure_change_below",
            c2_measure="logins",
            c2_percent="-40",
        ),
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.conditions[1] == {
        "type": "measure_change_below",
        "measure": "logins",
        "percent": -40,
    }
    assert rule.version == 2
    assert rule.active is False


def test_a_concurrent_change_is_a_form_error_saying_what_differs(
    admin_client, admin_user, low_usage
):
    rule = make_rule(admin_user, low_usage)
    loaded = rule.version
    services.rule_update(
        user=admin_user,
        rule=rule,
        values={"conditions": [{"type": "band_is", "band": "yellow"}]},
    )

    response = admin_client.post(
        reverse("rules:edit", args=[rule.pk]),
        form_data(low_usage, name="Red accounts, renamed", version=loaded),
    )

    assert response.status_code == 409
    page = text(response)
    assert "Someone changed the rule \u201cRed accounts\u201d since you opened it" in page
    assert "The saved rule differs from yours in: name, condition 1." in page
    assert f'href="{reverse("rules:edit", args=[rule.pk])}"' in page
    rule.refresh_from_db()
    assert rule.name == "Red accounts"
    assert rule.conditions == [{"type": "band_is", "band": "yellow"}]


# --- a rule's page ------------------------------------------------------------------------------


def test_the_rule_page_shows_its_definition_preview_and_matches(
    client, admin_user, csm, low_usage, enterprise, red_enterprise
):
    rule = make_rule(
        admin_user,
        low_usage,
        name="Falling enterprise",
        description="Red and falling fast.",
        segment=enterprise.pk,
        conditions=[
            {"type": "band_is", "band": "red"},
            {"type": "score_drop", "points": 20, "days": 30},
        ],
    )
    atlas = red_enterprise["Atlas"]
    risk = factories.RiskRecordFactory(account=atlas, primary_cause=low_usage)
    RuleMatch.objects.create(
        rule=rule,
        account=atlas,
        matched_at=timezone.now(),
        as_of=today(),
        risk=risk,
        outcome=Outcome.OPENED,
        acted_at=timezone.now(),
    )
    RuleMatch.objects.create(
        rule=rule,
        account=red_enterprise["Cygnus"],
        matched_at=timezone.now() - dt.timedelta(days=5),
        as_of=today() - dt.timedelta(days=5),
        outcome=Outcome.SKIPPED,
        outcome_note="The account churned.",
        acted_at=timezone.now(),
        cleared_at=timezone.now() - dt.timedelta(days=1),
    )
    client.force_login(csm)

    response = client.get(reverse("rules:detail", args=[rule.pk]))

    assert response.status_code == 200
    page = text(response)
    assert "Red and falling fast." in page
    assert "Enterprise segment" in page
    assert "health is red" in page and "health score fell 20+ points in 30 days" in page
    assert "Open a tier-1 risk record" in page
    assert "Inactive" in page
    preview = page[page.index('id="preview"') : page.index('id="matches"')]
    assert "2 accounts match" in preview
    assert preview.index("Borealis") < preview.index("Atlas")
    assert "Health score fell 24 points in 30 days" in preview
    matches = page[page.index('id="matches"') :]
    assert matches.index("Atlas") < matches.index("Cygnus")
    assert "Opened a risk record" in matches
    assert f'href="{reverse("risks:detail", args=[risk.pk])}"' in matches
    assert "Holding" in matches
    assert f"Cleared on {(timezone.now() - dt.timedelta(days=1)):%-d %b %Y}" in matches
    assert "The account churned." in matches
    # A CSM reads the rule and changes nothing.
    assert "Edit rule" not in page and "Activate" not in page and "Delete" not in page


def test_a_rule_naming_a_deleted_measure_still_shows(admin_client, admin_user, low_usage):
    number("gone", name="Soon gone")
    rule = make_rule(
        admin_user, low_usage, conditions=[{"type": "measure_below", "measure": "gone", "value": 1}]
    )
    Measure.objects.filter(code="gone").delete()

    response = admin_client.get(reverse("rules:detail", args=[rule.pk]))

    assert response.status_code == 200
    problem = "The rule \u201cRed accounts\u201d cannot run: it tests the measure 'gone'"
    assert problem in text(response)

    # "Evaluate now" runs the other rules and says which one it skipped.
    Rule.objects.filter(pk=rule.pk).update(active=True)
    response = admin_client.post(reverse("rules:evaluate"))
    assert response.status_code == 302
    assert any(message.startswith(problem) for message in flash(response))

    # Switching it off is always allowed; switching it on judges the whole
    # rule again, and the page says why not.
    version = Rule.objects.get(pk=rule.pk).version
    response = admin_client.post(
        reverse("rules:active", args=[rule.pk]), {"active": "0", "version": version}
    )
    assert response.status_code == 302
    assert flash(response)[-1] == (
        "The rule \u201cRed accounts\u201d is off: it matches nothing new; its past matches "
        "stay listed."
    )
    assert not Rule.objects.get(pk=rule.pk).active
    response = admin_client.post(
        reverse("rules:active", args=[rule.pk]), {"active": "1", "version": version + 1}
    )
    assert flash(response)[-1] == (
        "The rule cannot be switched on as it is saved: Condition 1, measure: "
        "No measure has the code 'gone'. Edit the rule first."
    )
    assert not Rule.objects.get(pk=rule.pk).active


def test_activate_and_deactivate(admin_client, admin_user, low_usage):
    rule = make_rule(admin_user, low_usage)
    url = reverse("rules:active", args=[rule.pk])
    page = admin_client.get(reverse("rules:detail", args=[rule.pk])).content.decode()
    assert ">Activate</button>" in page

    response = admin_client.post(url, {"active": "1", "version": rule.version})

    assert response.status_code == 302
    assert response["Location"] == reverse("rules:detail", args=[rule.pk])
    rule.refresh_from_db()
    assert rule.active is True
    assert flash(response)[0].startswith("The rule \u201cRed accounts\u201d is on")
    page = admin_client.get(reverse("rules:detail", args=[rule.pk])).content.decode()
    assert ">Deactivate</button>" in page

    response = admin_client.post(url, {"active": "0", "version": rule.version})

    rule.refresh_from_db()
    assert rule.active is False
    assert flash(response)[0].startswith("The rule \u201cRed accounts\u201d is off")


def test_activating_what_changed_since_the_page_was_shown_is_refused(
    admin_client, admin_user, low_usage
):
    rule = make_rule(admin_user, low_usage)
    shown = rule.version
    services.rule_update(user=admin_user, rule=rule, values={"name": "Renamed"})

    response = admin_client.post(
        reverse("rules:active", args=[rule.pk]), {"active": "1", "version": shown}
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.active is False
    assert flash(response)[0].startswith("Someone changed the rule \u201cRenamed\u201d")


def test_delete_a_rule_that_never_matched(admin_client, admin_user, low_usage):
    rule = make_rule(admin_user, low_usage)

    response = admin_client.post(reverse("rules:delete", args=[rule.pk]))

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert not Rule.objects.exists()
    assert flash(response) == ["The rule \u201cRed accounts\u201d was deleted."]


def test_a_rule_with_matches_is_not_deleted(admin_client, admin_user, low_usage, account):
    rule = make_rule(admin_user, low_usage)
    RuleMatch.objects.create(rule=rule, account=account, matched_at=timezone.now(), as_of=today())

    response = admin_client.post(reverse("rules:delete", args=[rule.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("rules:detail", args=[rule.pk])
    assert Rule.objects.filter(pk=rule.pk).exists()
    assert "has matched accounts, so it keeps its history" in flash(response)[0]


# --- evaluate now, and the account page -------------------------------------------------------


@pytest.fixture
def red_account(account):
    scored(account, today() - dt.timedelta(days=30), 70, "green")
    scored(account, today(), 30, "red")
    return account


@pytest.fixture
def active_rule(admin_user, low_usage):
    rule = make_rule(admin_user, low_usage, name="Red anywhere")
    return services.rule_update(user=admin_user, rule=rule, values={"active": True})


def test_evaluate_now_creates_the_matches_and_their_records(
    admin_client, active_rule, red_account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("rules:evaluate"))

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    match = RuleMatch.objects.get()
    assert (match.rule, match.account) == (active_rule, red_account)
    assert flash(response)[0].startswith(
        f"Evaluated 1 active rule as of {today():%-d %b %Y}: 1 new match, 0 matches cleared."
    )
    # The actions ran after the commit (tasks run in-process in the tests).
    match.refresh_from_db()
    assert match.outcome == Outcome.OPENED
    risk = RiskRecord.objects.get(account=red_account)
    assert risk.status == RiskStatus.OPEN and risk.tier == 1
    assert risk.primary_cause == low_usage
    assert risk.opened_by.username == SYSTEM_USERNAME
    assert "Health is red (score 30)." in risk.summary


def test_evaluate_now_with_htmx_swaps_the_list(admin_client, active_rule, red_account):
    response = admin_client.post(reverse("rules:evaluate"), **HTMX)

    assert response.status_code == 200
    body = text(response)
    assert body.lstrip().startswith('<section class="card" id="rules-list"')
    assert 'hx-swap-oob="true"' in body
    assert "1 new match" in body
    row = body[body.index(f'data-rule="{active_rule.pk}"') :].split("</tr>")[0]
    assert re.findall(r'class="num"[^>]*>(\d+)</td>', row) == ["1", "1"]


def test_evaluate_now_with_no_active_rule_says_so(admin_client, admin_user, low_usage):
    make_rule(admin_user, low_usage)

    response = admin_client.post(reverse("rules:evaluate"))

    assert flash(response) == ["No rule is active, so nothing was evaluated."]
    assert not RuleMatch.objects.exists()


def test_the_account_page_shows_the_rules_holding_for_it(
    client,
    csm,
    admin_user,
    active_rule,
    red_account,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    with django_capture_on_commit_callbacks(execute=True):
        services.evaluate_now(user=admin_user)
    risk = RiskRecord.objects.get(account=red_account)
    client.force_login(csm)

    # The page's own (eight for a scored account, tests/health/test_pages.py)
    # and one for the rules holding.
    with django_assert_max_num_queries(9):
        response = client.get(reverse("customer_accounts:detail", args=[red_account.pk]))

    page = text(response)
    panel = page[page.index('id="rules-holding"') :].split("</section>")[0]
    assert "Risk rules holding now" in panel
    assert f'<a href="{reverse("rules:detail", args=[active_rule.pk])}">Red anywhere</a>' in panel
    assert f"matched on {timezone.localtime():%-d %b %Y}" in panel
    assert "Health is red (score 30)." in panel
    assert "Opened" in panel
    assert f'href="{reverse("risks:detail", args=[risk.pk])}">risk record #{risk.pk}</a>' in panel


def test_the_account_page_shows_no_rules_block_when_none_holds(
    client, csm, admin_user, active_rule, red_account
):
    services.evaluate_now(user=admin_user)
    RuleMatch.objects.update(cleared_at=timezone.now())
    other = factories.AccountFactory(csm=csm)
    client.force_login(csm)

    for account in (red_account, other):
        page = client.get(reverse("customer_accounts:detail", args=[account.pk])).content.decode()
        assert "Risk rules holding now" not in page


def test_a_match_noted_on_the_open_record_says_so_on_the_account_page(
    client, csm, admin_user, active_rule, red_account, low_usage, django_capture_on_commit_callbacks
):
    existing = factories.RiskRecordFactory(account=red_account, primary_cause=low_usage)
    with django_capture_on_commit_callbacks(execute=True):
        services.evaluate_now(user=admin_user)
    client.force_login(csm)

    page = text(client.get(reverse("customer_accounts:detail", args=[red_account.pk])))

    url = reverse("risks:detail", args=[existing.pk])
    assert f'Evidence added to <a href="{url}">risk record #{existing.pk}</a>' in page
    assert RiskRecord.objects.filter(account=red_account).count() == 1


def test_an_inactive_region_or_unknown_rule_is_a_404(admin_client):
    assert admin_client.get(reverse("rules:detail", args=[999999])).status_code == 404
    assert admin_client.get(reverse("rules:edit", args=[999999])).status_code == 404
    assert admin_client.post(reverse("rules:active", args=[999999])).status_code == 404


def test_the_scope_menus_list_every_segment_and_region(admin_client, region, other_region):
    page = text(admin_client.get(NEW_URL))
    segment = page[page.index('name="segment"') :].split("</select>")[0]
    assert '<option value="" selected>Every segment</option>' in segment
    for each in Segment.objects.all():
        assert f'<option value="{each.pk}">{each.name}</option>' in segment
    regions = page[page.index('name="region"') :].split("</select>")[0]
    for each in Region.objects.all():
        assert f'<option value="{each.pk}">{each.name} ({each.code})</option>' in regions


def test_the_cause_menu_lists_active_causes_only(admin_client, low_usage):
    RootCause.objects.filter(code="defects").update(active=False)
    page = text(admin_client.get(NEW_URL))
    causes = page[page.index('name="primary_cause"') :].split("</select>")[0]
    assert f'<option value="{low_usage.pk}">{low_usage.name}</option>' in causes
    assert "Defects" not in causes


def test_observations_feed_the_preview_of_a_measure_condition(admin_client, low_usage, logins, csm):
    quiet = factories.AccountFactory(name="Quiet Co", csm=csm, arr=Decimal("50000"))
    busy = factories.AccountFactory(name="Busy Co", csm=csm)
    observe(quiet, logins, 3, today() - dt.timedelta(days=2))
    observe(busy, logins, 40, today() - dt.timedelta(days=2))

    response = admin_client.post(
        NEW_URL,
        form_data(
            low_usage, intent="preview", c1_type="measure_below", c1_measure="logins", c1_value="10"
        ),
    )

    page = text(response)
    assert "1 account matches" in page
    assert f"Weekly logins was 3 on {today() - dt.timedelta(days=2):%-d %b %Y}, below 10." in page
    assert "Busy Co" not in page
