"""The weekly digest's section of risk rule matches (rules.digest, added to
risks.digest from the rules app's start-up): which matches each role's
digest lists (acted on in the week, with an outcome that did something, on
active accounts in scope), their lines and links, the email it makes, and a
rule that is not about the red band reaching a digest reader through it
while the colleague off the digest gets the rule's email."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, User
from notifications.models import OutboundMessage
from risks import digest
from rules.digest import matches_for_digest
from rules.evaluation import act_on_pending, evaluate_rules
from rules.models import Outcome, Rule, RuleMatch
from tests import factories
from tests.rules.conftest import number, observe, rule, scored

pytestmark = pytest.mark.django_db

SITE = "https://risk.example.com"
MONDAY = dt.date(2026, 3, 9)  # Berlin is on UTC+1 all through the week before
# The digests below are composed on Monday at 07:05 in Berlin: their week is
# from Monday 2 March 00:00 to Sunday 8 March 24:00 in Berlin, that is from
# 1 March 23:00 UTC to 8 March 23:00 UTC.
NOW = dt.datetime(2026, 3, 9, 6, 5, tzinfo=dt.UTC)


def utc(month_day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, month_day, hour, minute, second, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


def account_url(account) -> str:
    return f"{SITE}{reverse('customer_accounts:detail', args=[account.pk])}"


def risk_url(risk) -> str:
    return f"{SITE}{reverse('risks:detail', args=[risk.pk])}"


def match(r: Rule, account, outcome: str, acted_at: dt.datetime | None, **fields) -> RuleMatch:
    """A match as the actions leave it (acted on at ``acted_at`` with
    ``outcome``; waiting for them when ``acted_at`` is None)."""
    matched_at = (acted_at or utc(8, 12)) - dt.timedelta(minutes=5)
    return RuleMatch.objects.create(
        rule=r,
        account=account,
        matched_at=matched_at,
        as_of=matched_at.date(),
        evidence=[],
        outcome=outcome,
        acted_at=acted_at,
        **fields,
    )


def section_of(person: User) -> digest.AddedSection:
    """The rules' section of the person's digest, composed at NOW."""
    composed = digest.compose(person, NOW)
    [section] = composed.added
    return section


def accounts_listed(section: digest.AddedSection) -> list[str]:
    return [line.text.split(" matched ")[1].split(" (")[0] for line in section.rows]


@pytest.fixture
def scene(csm, manager, other_csm, region, other_region):
    """Carl (CSM, manager Maria) and Olga (CSM, another team) in EMEA, Ned
    in NA; two rules; matches around the week, worked out by hand."""
    usage = rule(name="Usage falling", actions=["notify"])
    red = rule(name="Red band", actions=["open_risk", "notify"])

    def carls(name: str, **fields):
        return factories.AccountFactory(csm=csm, region=region, name=name, **fields)

    acme, initech, umbrella, hooli = (
        carls("Acme"),
        carls("Initech"),
        carls("Umbrella"),
        carls("Hooli"),
    )
    stark, wayne, tyrell = carls("Stark"), carls("Wayne"), carls("Tyrell")
    gone = carls("Gone Ltd", status=AccountStatus.CHURNED, churned_on=MONDAY)
    maria_own = factories.AccountFactory(csm=manager, region=region, name="Maria's Own")
    globex = factories.AccountFactory(csm=other_csm, region=region, name="Globex")
    ned = factories.CsmFactory(username="ned", region=other_region)
    na_inc = factories.AccountFactory(csm=ned, region=other_region, name="Na Inc")
    soylent = factories.AccountFactory(csm=ned, region=other_region, name="Soylent")
    cyberdyne = factories.AccountFactory(csm=ned, region=other_region, name="Cyberdyne")

    umbrella_risk = factories.RiskRecordFactory(account=umbrella)
    tyrell_risk = factories.RiskRecordFactory(account=tyrell)
    globex_risk = factories.RiskRecordFactory(account=globex)

    # The week's first instant, Monday 2 March 00:00 in Berlin: in.
    match(usage, acme, Outcome.NOTIFIED, utc(1, 23))
    # A minute before it, Sunday 1 March 23:59 in Berlin: the week before.
    match(usage, initech, Outcome.NOTIFIED, utc(1, 22, 59))
    # Noted on Tyrell's open record on 4 March; the episode cleared since.
    match(red, tyrell, Outcome.NOTED, utc(4, 10), risk=tyrell_risk, cleared_at=utc(6, 10))
    match(usage, maria_own, Outcome.NOTIFIED, utc(5, 9))
    match(red, globex, Outcome.OPENED, utc(6, 9), risk=globex_risk)
    match(usage, na_inc, Outcome.NOTIFIED, utc(7, 9))
    # The week's last second, Sunday 8 March 23:59:59 in Berlin: in.
    match(red, umbrella, Outcome.OPENED, utc(8, 22, 59, 59), risk=umbrella_risk)
    # Monday 00:00 in Berlin: next week's.
    match(usage, hooli, Outcome.NOTIFIED, utc(8, 23))
    # Ned's two in NA, either side of the week in New York (see below).
    match(usage, soylent, Outcome.NOTIFIED, utc(2, 4))
    match(usage, cyberdyne, Outcome.NOTIFIED, utc(9, 3, 30))
    # Skipped (it did nothing), waiting for its actions, on a churned account: out.
    match(red, stark, Outcome.SKIPPED, utc(5, 9), outcome_note="The account churned.")
    match(usage, wayne, Outcome.PENDING, None)
    match(usage, gone, Outcome.NOTIFIED, utc(5, 9))
    return {
        "acme": acme,
        "tyrell": tyrell,
        "tyrell_risk": tyrell_risk,
        "umbrella": umbrella,
        "umbrella_risk": umbrella_risk,
    }


def test_a_csms_section_lists_the_weeks_acted_on_matches_on_their_accounts(csm, scene):
    section = section_of(csm)

    assert section.title == "Risk rules that matched on your accounts from 2026-03-02 to 2026-03-08"
    assert section.total == 3 and section.more == 0
    assert [line.text for line in section.rows] == [
        "\u201cUsage falling\u201d matched Acme (EMEA) on 2026-03-02: notified, CSM Carl Example",
        "\u201cRed band\u201d matched Tyrell (EMEA) on 2026-03-04: noted on the open record, "
        "CSM Carl Example; no longer holds",
        "\u201cRed band\u201d matched Umbrella (EMEA) on 2026-03-08: opened a risk record, "
        "CSM Carl Example",
    ]
    assert [line.links for line in section.rows] == [
        (account_url(scene["acme"]),),
        (account_url(scene["tyrell"]), risk_url(scene["tyrell_risk"])),
        (account_url(scene["umbrella"]), risk_url(scene["umbrella_risk"])),
    ]
    assert section.url == f"{SITE}{reverse('rules:index')}"
    assert section.summary == "3 rule matches"


def test_a_managers_section_covers_their_own_and_their_teams_accounts(manager, scene):
    section = section_of(manager)

    assert section.title.startswith("Risk rules that matched on your team's accounts from ")
    assert accounts_listed(section) == ["Acme", "Tyrell", "Maria's Own", "Umbrella"]


def test_a_reviewers_section_covers_their_region(reviewer, scene):
    section = section_of(reviewer)

    assert section.title.startswith("Risk rules that matched in EMEA from ")
    assert accounts_listed(section) == ["Acme", "Tyrell", "Maria's Own", "Globex", "Umbrella"]


def test_an_admins_section_covers_every_account(admin_user, scene, settings):
    # Ada has no region: the site's clock decides. On UTC her week is from
    # 2 March 00:00 to 9 March 00:00 UTC: Hooli's match is in, Acme's not.
    settings.TIME_ZONE = "UTC"
    section = section_of(admin_user)

    assert section.title == "Risk rules that matched from 2026-03-02 to 2026-03-08"
    assert accounts_listed(section) == [
        "Soylent",
        "Tyrell",
        "Maria's Own",
        "Globex",
        "Na Inc",
        "Umbrella",
        "Hooli",
    ]
    assert section.summary == "7 rule matches"


def test_the_week_is_on_the_persons_own_clock(other_region, scene):
    # New York is on UTC-5 until 8 March 02:00, then UTC-4: its week is from
    # 2 March 05:00 UTC to 9 March 04:00 UTC. Acme's match (1 March 23:00
    # UTC) and Soylent's (2 March 04:00 UTC) were on 1 March there; Hooli's
    # (8 March 23:00 UTC) and Cyberdyne's (9 March 03:30 UTC) on 8 March.
    admin = factories.AdminFactory(username="nadia", region=other_region)

    section = digest.compose(admin, dt.datetime(2026, 3, 9, 11, 5, tzinfo=dt.UTC)).added[0]

    assert accounts_listed(section) == [
        "Tyrell",
        "Maria's Own",
        "Globex",
        "Na Inc",
        "Umbrella",
        "Hooli",
        "Cyberdyne",
    ]
    assert section.rows[-1].text.startswith(
        "\u201cUsage falling\u201d matched Cyberdyne (NA) on 2026-03-08:"
    )


def test_the_email_has_the_section_and_a_digest_with_only_matches_is_sent(csm, region):
    acme = factories.AccountFactory(csm=csm, region=region, name="Acme")
    match(rule(name="Usage falling", actions=["notify"]), acme, Outcome.NOTIFIED, utc(3, 8))
    User.objects.filter(pk=csm.pk).update(weekly_digest=True)

    assert digest.send_weekly_digests(now=NOW) == 1

    row = OutboundMessage.objects.get(kind=digest.KIND)
    assert row.to == [csm.email]
    assert row.subject == (
        "Your weekly digest: 0 open records, 0 tasks due, 0 accounts turned red, 1 rule match"
    )
    assert (
        "Risk rules that matched on your accounts from 2026-03-02 to 2026-03-08 (1):\n\n"
        "- \u201cUsage falling\u201d matched Acme (EMEA) on 2026-03-03: notified, "
        "CSM Carl Example\n"
        f"  {account_url(acme)}\n\n"
    ) in row.body
    assert "&#x27;" not in row.body and "&amp;" not in row.body


def test_a_digest_whose_only_match_was_skipped_or_is_waiting_is_not_sent(csm, region):
    r = rule(name="Usage falling", actions=["notify"])
    acme = factories.AccountFactory(csm=csm, region=region, name="Acme")
    initech = factories.AccountFactory(csm=csm, region=region, name="Initech")
    match(r, acme, Outcome.SKIPPED, utc(3, 8), outcome_note="Cleared before it was acted on.")
    match(r, initech, Outcome.PENDING, None)
    User.objects.filter(pk=csm.pk).update(weekly_digest=True)

    assert digest.send_weekly_digests(now=NOW) == 0
    assert not OutboundMessage.objects.filter(kind=digest.KIND).exists()


def test_a_long_section_shows_its_first_matches_and_links_to_the_rules(csm, region, monkeypatch):
    monkeypatch.setattr(digest, "SECTION_LIMIT", 2)
    r = rule(name="Usage falling", actions=["notify"])
    for number_ in range(3):
        account = factories.AccountFactory(csm=csm, region=region, name=f"Account {number_}")
        match(r, account, Outcome.NOTIFIED, utc(3 + number_, 8))
    User.objects.filter(pk=csm.pk).update(weekly_digest=True)

    digest.send_weekly_digests(now=NOW)

    body = OutboundMessage.objects.get(kind=digest.KIND).body
    assert "Risk rules that matched on your accounts from 2026-03-02 to 2026-03-08 (3):" in body
    assert "Account 0" in body and "Account 1" in body and "Account 2" not in body
    assert f"\u2026 and 1 more:\n{SITE}{reverse('rules:index')}" in body


def test_the_section_costs_one_query_whatever_the_number_of_matches(csm, region):
    r = rule(name="Usage falling", actions=["notify"])

    def queries() -> int:
        fresh = User.objects.select_related("region").get(pk=csm.pk)
        scope = digest.DigestScope(fresh)
        window = digest.DigestWindow(
            first_day=dt.date(2026, 3, 2),
            last_day=dt.date(2026, 3, 8),
            zone=digest.person_zone(fresh),
        )
        with CaptureQueriesContext(connection) as captured:
            section = matches_for_digest(scope, window)
        return len(captured), section.total

    def add_match(number_: int) -> None:
        account = factories.AccountFactory(csm=csm, region=region, name=f"Account {number_}")
        match(r, account, Outcome.NOTIFIED, utc(3, 8, number_))

    add_match(0)
    one = queries()
    for number_ in range(1, 8):
        add_match(number_)
    assert one == (1, 1)
    assert queries() == (1, 8)


# --- a rule that is not about the red band ---


def test_a_usage_falling_match_reaches_a_digest_reader_in_the_digest_and_a_colleague_by_email(
    csm, manager, region, monkeypatch
):
    """Carl reads the digest, his manager Maria does not. Acme is green, but
    its usage fell by half: the rule notifies; Maria gets its email at once,
    Carl none, and Carl's Monday digest lists it."""
    usage = number("usage", scoring="change", baseline_days=90, stale_after_days=45)
    acme = factories.AccountFactory(csm=csm, region=region, name="Acme")
    as_of = dt.date(2026, 3, 4)
    # Baseline: the mean of 100 and 100 before the latest; latest 50 → -50%.
    observe(acme, usage, 100, as_of - dt.timedelta(days=40))
    observe(acme, usage, 100, as_of - dt.timedelta(days=20))
    observe(acme, usage, 50, as_of)
    scored(acme, as_of, 72, "green")
    rule(
        {"type": "measure_change_below", "measure": "usage", "percent": -30},
        name="Usage falling",
        actions=["notify"],
    )
    User.objects.filter(pk=csm.pk).update(weekly_digest=True)

    with monkeypatch.context() as clock:
        # Wednesday 4 March, 06:00 in Berlin.
        clock.setattr(timezone, "now", lambda: utc(4, 5))
        assert evaluate_rules(as_of=as_of).matched == 1
        assert act_on_pending() == 1

    [matched] = RuleMatch.objects.all()
    assert matched.outcome == Outcome.NOTIFIED and matched.risk is None
    [email] = OutboundMessage.objects.filter(kind="rule_matched")
    assert email.to == [manager.email]
    assert email.subject == "Acme: the rule \u201cUsage falling\u201d matched"

    assert digest.send_weekly_digests(now=NOW) == 1

    [carls] = OutboundMessage.objects.filter(kind=digest.KIND)
    assert carls.to == [csm.email]
    assert carls.subject.endswith("0 accounts turned red, 1 rule match")
    assert (
        "- \u201cUsage falling\u201d matched Acme (EMEA) on 2026-03-04: notified, "
        "CSM Carl Example\n"
        f"  {account_url(acme)}\n"
    ) in carls.body
