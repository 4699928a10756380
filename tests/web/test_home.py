"""The home page shows each role what needs their attention, and nobody else's."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core import business_days
from risks import services
from risks.models import Escalation, RiskRecord, Tier
from tests import factories

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def open_risk(account, *, tier: int = Tier.CSM, arr_at_risk: str = "100000.00") -> RiskRecord:
    return factories.RiskRecordFactory(
        account=account, tier=tier, max_tier=tier, arr_at_risk=Decimal(arr_at_risk)
    )


def csm_request(risk: RiskRecord) -> Escalation:
    return services.escalation_request(user=risk.account.csm, risk=risk, reason="Please help.")


def row_html(html: str, escalation: Escalation) -> str:
    start = html.index(f'<tr id="escalation-{escalation.pk}"')
    return html[start : html.index("</tr>", start)]


def home(client, user):
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response


# --- CSM -------------------------------------------------------------------------------


def test_csm_home_shows_their_open_risks_grouped_by_tier(client, csm, other_csm, region):
    tier3 = open_risk(factories.AccountFactory(csm=csm, name="Top Risk AG"), tier=3)
    tier1 = open_risk(factories.AccountFactory(csm=csm, name="Small Worry Ltd"))
    factories.RiskRecordFactory(
        account=factories.AccountFactory(csm=csm, name="Long Gone Inc"),
        status="churned",
        closed_at=timezone.now(),
        arr_retained=0,
    )
    open_risk(factories.AccountFactory(csm=other_csm, name="Not Mine SA"), tier=2)

    response = home(client, csm)

    html = response.content.decode()
    assert response.context["risks"] == [tier3, tier1]
    assert reverse("risks:detail", args=[tier3.pk]) in html
    assert "Top Risk AG" in html and "Small Worry Ltd" in html
    assert html.index("Tier 3 · Review") < html.index("Tier 1 · CSM")
    assert "Long Gone Inc" not in html
    assert "Not Mine SA" not in html
    assert reverse("risks:file") in html
    assert "File a risk record" in html
    # Per-tier totals come from one aggregate over the CSM's open records.
    totals = {row["tier"]: row for row in response.context["totals"]["by_tier"]}
    assert totals[3]["count"] == 1 and totals[2]["count"] == 0 and totals[1]["count"] == 1
    assert response.context["totals"]["arr_at_risk"] == Decimal("200000.00")


def test_csm_home_lists_their_pending_escalation_requests(client, csm, other_csm):
    mine = csm_request(open_risk(factories.AccountFactory(csm=csm, name="Mine Waiting")))
    csm_request(open_risk(factories.AccountFactory(csm=other_csm, name="Theirs Waiting")))

    response = home(client, csm)

    html = response.content.decode()
    assert response.context["pending"] == [mine]
    assert "Mine Waiting" in html and "Theirs Waiting" not in html
    assert "Please help." in html
    assert "waiting 0 business days" in html
    # A CSM cannot decide: no approve or reject form on their home page.
    assert reverse("risks:approve", args=[mine.pk]) not in html


def test_csm_home_lists_their_accounts_renewing_within_90_days(client, csm, other_csm):
    today = timezone.localdate()
    soon = factories.AccountFactory(
        csm=csm, name="Renews Soon", renewal_date=today + dt.timedelta(days=30)
    )
    risky = factories.AccountFactory(
        csm=csm, name="Renews Risky", renewal_date=today + dt.timedelta(days=60)
    )
    risk = open_risk(risky, tier=2)
    factories.AccountFactory(csm=csm, name="Renews Later", renewal_date=today + dt.timedelta(200))
    factories.AccountFactory(csm=csm, name="Renewed Past", renewal_date=today - dt.timedelta(1))
    factories.AccountFactory(
        csm=other_csm, name="Renews Theirs", renewal_date=today + dt.timedelta(days=10)
    )

    response = home(client, csm)

    html = response.content.decode()
    assert [account.name for account in response.context["renewals"]] == [
        "Renews Soon",
        "Renews Risky",
    ]
    assert reverse("customer_accounts:detail", args=[soon.pk]) in html
    assert "in 30 days" in html
    assert reverse("risks:detail", args=[risk.pk]) in html  # the tier badge links the record
    for hidden in ("Renews Later", "Renewed Past", "Renews Theirs"):
        assert hidden not in html


def test_csm_home_with_nothing_to_show_says_so(client, csm):
    html = home(client, csm).content.decode()
    assert "None of your accounts has an open risk record." in html
    assert "No escalation of yours is waiting." in html


# --- manager ---------------------------------------------------------------------------


def test_manager_home_shows_their_teams_queue_only(client, manager, csm, other_csm):
    team = csm_request(open_risk(factories.AccountFactory(csm=csm, name="Team Account")))
    foreign = csm_request(open_risk(factories.AccountFactory(csm=other_csm, name="Foreign Co")))

    response = home(client, manager)

    html = response.content.decode()
    assert [e.pk for e in response.context["escalations"]] == [team.pk]
    assert f'id="escalation-{team.pk}"' in html
    assert reverse("risks:approve", args=[team.pk]) in html
    assert f'id="escalation-{foreign.pk}"' not in html
    assert "Foreign Co" not in html
    # The forms come back to the home page when JavaScript is off.
    assert 'name="next" value="/"' in html


def test_manager_home_shows_their_teams_open_risks_by_tier(client, manager, csm, other_csm):
    own = open_risk(factories.AccountFactory(csm=manager, name="Manager Own"), tier=2)
    team = open_risk(factories.AccountFactory(csm=csm, name="Team Risk"), tier=3, arr_at_risk="5")
    open_risk(factories.AccountFactory(csm=csm, name="Team Other"), arr_at_risk="7")
    open_risk(factories.AccountFactory(csm=other_csm, name="Other Team Risk"), tier=3)

    response = home(client, manager)

    html = response.content.decode()
    assert [risk.pk for risk in response.context["risks"]][:2] == [team.pk, own.pk]
    assert "Other Team Risk" not in html
    by_tier = response.context["totals"]["by_tier"]
    assert [(row["tier"], row["count"], row["arr_at_risk"]) for row in by_tier] == [
        (3, 1, Decimal("5.00")),
        (2, 1, Decimal("100000.00")),
        (1, 1, Decimal("7.00")),
    ]
    assert "100,012" in html  # the team's ARR at risk


def test_manager_home_highlights_escalations_waiting_more_than_two_business_days(
    client, manager, csm, monkeypatch
):
    late = csm_request(open_risk(factories.AccountFactory(csm=csm, name="Late One")))
    fresh = csm_request(open_risk(factories.AccountFactory(csm=csm, name="Fresh One")))
    friday = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BERLIN)
    monday = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
    Escalation.objects.filter(pk=late.pk).update(requested_at=friday)
    Escalation.objects.filter(pk=fresh.pk).update(requested_at=monday)
    wednesday = dt.datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)
    monkeypatch.setattr(business_days, "current_time", lambda: wednesday)

    response = home(client, manager)

    rows = {e.pk: e for e in response.context["escalations"]}
    assert (rows[late.pk].business_days_waiting, rows[late.pk].overdue) == (3, True)
    assert (rows[fresh.pk].business_days_waiting, rows[fresh.pk].overdue) == (2, False)
    html = response.content.decode()
    late_row, fresh_row = (row_html(html, e) for e in (late, fresh))
    assert "overdue-row" in late_row and "waiting 3 business days" in late_row
    assert "overdue-row" not in fresh_row and "waiting 2 business days" in fresh_row


def test_manager_approves_in_place_on_home_with_htmx(client, manager, csm):
    escalation = csm_request(open_risk(factories.AccountFactory(csm=csm)))
    client.force_login(manager)

    response = client.post(
        reverse("risks:approve", args=[escalation.pk]),
        {"next": "/"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET=f"escalation-{escalation.pk}",
    )

    assert response.status_code == 200
    assert "Approved — now tier 2." in response.content.decode()
    assert RiskRecord.objects.get(pk=escalation.risk_id).tier == 2


def test_manager_approves_from_home_without_javascript(client, manager, csm):
    escalation = csm_request(open_risk(factories.AccountFactory(csm=csm, name="Plain Form AG")))
    client.force_login(manager)

    response = client.post(
        reverse("risks:approve", args=[escalation.pk]), {"next": "/"}, follow=True
    )

    assert response.redirect_chain == [("/", 302)]
    html = response.content.decode()
    assert "Approved: Plain Form AG moves to tier 2." in html
    assert "Nothing to decide" in html


# --- reviewer --------------------------------------------------------------------------


def test_reviewer_home_shows_tier_3_of_their_region_only(client, reviewer, csm, region):
    na = factories.RegionFactory(code="NA", name="North America")
    na_csm = factories.CsmFactory(username="nick", region=na)
    review = open_risk(factories.AccountFactory(csm=csm, region=region, name="Review Me"), tier=3)
    open_risk(factories.AccountFactory(csm=csm, region=region, name="Only Tier Two"), tier=2)
    open_risk(factories.AccountFactory(csm=na_csm, region=na, name="Other Region"), tier=3)
    review.secondary_cause = factories.RootCauseFactory(code="defects")
    review.save()

    response = home(client, reviewer)

    html = response.content.decode()
    assert response.context["risks"] == [review]
    assert "Review Me" in html and reverse("risks:detail", args=[review.pk]) in html
    assert "Only Tier Two" not in html and "Other Region" not in html
    assert "Enterprise" in html  # segment
    assert str(csm) in html
    assert "also Defects" in html
    assert "all regions" not in html


def test_reviewer_without_region_sees_all_regions_and_is_told(client, csm, region):
    reviewer = factories.ReviewerFactory(username="roaming", region=None)
    na = factories.RegionFactory(code="NA", name="North America")
    na_csm = factories.CsmFactory(username="nick", region=na)
    emea = open_risk(factories.AccountFactory(csm=csm, region=region, name="In Europe"), tier=3)
    america = open_risk(factories.AccountFactory(csm=na_csm, region=na, name="In America"), tier=3)

    response = home(client, reviewer)

    assert set(response.context["risks"]) == {emea, america}
    html = response.content.decode()
    assert "You have no region" in html
    assert "all regions" in html


# --- admin -----------------------------------------------------------------------------


def test_admin_home_shows_every_teams_queue_and_risks_and_admin_links(
    client, admin_user, csm, other_csm
):
    ours = csm_request(open_risk(factories.AccountFactory(csm=csm, name="First Team Co")))
    theirs = csm_request(open_risk(factories.AccountFactory(csm=other_csm, name="Second Team Co")))

    response = home(client, admin_user)

    html = response.content.decode()
    assert {e.pk for e in response.context["escalations"]} == {ours.pk, theirs.pk}
    assert reverse("risks:approve", args=[theirs.pk]) in html
    assert response.context["totals"]["count"] == 2
    for name in (
        "admin:index",
        "admin:risks_rootcause_changelist",
        "admin:accounts_user_changelist",
        "admin:accounts_region_changelist",
    ):
        assert reverse(name) in html


def test_manager_home_has_no_admin_links(client, manager):
    html = home(client, manager).content.decode()
    assert reverse("admin:risks_rootcause_changelist") not in html


# --- query counts ----------------------------------------------------------------------


def _populate(manager, region, rows: int) -> None:
    """``rows`` open records (tiers 1 to 3, several CSMs and causes), each with a
    pending escalation where one can be asked, plus accounts renewing soon."""
    causes = [factories.RootCauseFactory(code=code) for code in ("low-usage", "defects")]
    for index in range(rows):
        csm = factories.CsmFactory(username=f"load-csm-{index % 4}", manager=manager, region=region)
        account = factories.AccountFactory(
            csm=csm,
            region=region,
            renewal_date=timezone.localdate() + dt.timedelta(days=index % 80),
        )
        tier = index % 3 + 1
        risk = factories.RiskRecordFactory(
            account=account,
            tier=tier,
            max_tier=tier,
            primary_cause=causes[index % 2],
            secondary_cause=causes[(index + 1) % 2] if index % 2 else None,
        )
        if tier < 3:
            factories.EscalationFactory(risk=risk, requested_by=csm)
        # A task due this week (every other one overdue) on every record.
        factories.TaskFactory(
            risk=risk, owner=csm, due_date=timezone.localdate() - dt.timedelta(days=index % 2)
        )


# Session, user, then one query per section of the page, whatever its length
# (the CSM's tasks due this week are two: the rows and their count; the
# manager's team overdue tasks one count).
HOME_QUERIES = {"csm": 8, "manager": 6, "reviewer": 4, "admin": 5}


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("role", ["csm", "manager", "reviewer", "admin"])
def test_home_query_count_does_not_grow_with_rows(
    client, manager, region, reviewer, admin_user, role, rows, django_assert_max_num_queries
):
    _populate(manager, region, rows)
    user = {
        "csm": factories.CsmFactory(username="load-csm-0"),
        "manager": manager,
        "reviewer": reviewer,
        "admin": admin_user,
    }[role]
    client.force_login(user)

    with django_assert_max_num_queries(HOME_QUERIES[role]):
        response = client.get(reverse("home"))

    assert response.status_code == 200
    assert len(response.context["risks"]) > 0
