"""The health pages: the badge on every list and page that shows an account,
the Health section of the account page, and the Health page.

Scores are made by hand (HealthScore rows and the account's mirror) wherever
the figures matter, so every count below is worked out from the set-up; the
breakdown test runs the real scoring over a small scorecard instead."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, Segment
from health.models import HealthScore, Measure
from health.scoring import score_accounts
from risks.models import RiskStatus, RootCause
from tests import factories

pytestmark = pytest.mark.django_db

HEALTH_URL = reverse("health:index")
ACCOUNTS_URL = reverse("customer_accounts:list")
RISKS_URL = reverse("risks:list")


@pytest.fixture(autouse=True)
def empty_scorecard():
    Measure.objects.update(active=False)


def today() -> dt.date:
    return timezone.localdate()


def band_of(score: int | None) -> str:
    if score is None:
        return "unknown"
    return "green" if score >= 70 else "red" if score < 40 else "yellow"


def scored(account, score: int | None, *, days_ago: int = 0, parts: dict | None = None):
    """A HealthScore of ``account`` ``days_ago`` days back; the newest one is
    mirrored onto the account, as scoring does."""
    row = HealthScore.objects.create(
        account=account,
        as_of=today() - dt.timedelta(days=days_ago),
        score=score,
        band=band_of(score),
        coverage=Decimal("1") if score is not None else Decimal("0.2"),
        parts=parts or {},
        computed_at=timezone.now(),
    )
    newest = HealthScore.objects.filter(account=account).order_by("-as_of").first()
    account.health_score, account.health_band, account.health_as_of = (
        newest.score,
        newest.band,
        newest.as_of,
    )
    account.save(update_fields=["health_score", "health_band", "health_as_of"])
    return row


def with_trend(account, now: int | None, before: int | None):
    """A score ``before`` 30 days ago and ``now`` today."""
    if before is not None:
        scored(account, before, days_ago=30)
    scored(account, now)
    return account


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def badge(score, band, previous=None) -> str:
    template = Template("{% load health_tags %}{% health_badge score band previous %}")
    return template.render(Context({"score": score, "band": band, "previous": previous}))


# --- the badge ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "band", "previous", "css", "shown", "spoken"),
    [
        (82, "green", 70, "health-green", "Green 82 ↑12", "up 12 from 30 days ago"),
        (35, "red", 47, "health-red", "Red 35 ↓12", "down 12 from 30 days ago"),
        (55, "yellow", 55, "health-yellow", "Yellow 55 →", "the same as 30 days ago"),
    ],
)
def test_badge_shows_band_score_and_arrow_against_30_days_ago(
    score, band, previous, css, shown, spoken
):
    html = badge(score, band, previous)

    assert f'class="health-badge {css}"' in html
    visible = re.sub(r'<span class="visually-hidden">.*?</span>', "", html)
    assert text(visible).strip() == shown
    assert f'<span class="visually-hidden">, {spoken}</span>' in html
    # The arrow itself is not read out: the words say it.
    assert 'aria-hidden="true">' in html


def test_badge_without_a_score_30_days_ago_has_no_arrow():
    html = badge(64, "yellow", None)

    assert text(html).strip() == "Yellow 64"
    assert "health-trend" not in html
    assert "no score 30 days ago" in html  # in the tooltip


@pytest.mark.parametrize(
    ("band", "reason"), [("unknown", "too little recent data"), ("", "never scored")]
)
def test_badge_of_an_unknown_or_never_scored_account_says_no_score(band, reason):
    html = badge(None, band, 50)

    assert 'class="health-badge health-none"' in html
    assert text(html).strip() == "No score"
    assert reason in html


# --- the badge on lists and pages -------------------------------------------------------


@pytest.fixture
def signed_in(client, csm):
    client.force_login(csm)
    return client


def test_the_trend_compares_with_the_newest_score_at_least_30_days_old(signed_in, csm):
    account = factories.AccountFactory(csm=csm, name="Northwind")
    scored(account, 70, days_ago=40)
    scored(account, 60, days_ago=30)  # the one compared with
    scored(account, 90, days_ago=29)  # too recent
    scored(account, 45)

    response = signed_in.get(ACCOUNTS_URL)

    row = response.context["accounts"][0]
    assert (row.health_score, row.health_previous_score) == (45, 60)
    assert "Yellow 45" in text(response.content.decode())
    assert "down 15 from 30 days ago" in response.content.decode()


def test_accounts_list_shows_each_accounts_badge(signed_in, csm):
    with_trend(factories.AccountFactory(csm=csm, name="Alpha"), 80, 70)
    with_trend(factories.AccountFactory(csm=csm, name="Bravo"), 30, 45)
    factories.AccountFactory(csm=csm, name="Charlie")  # never scored

    html = signed_in.get(ACCOUNTS_URL).content.decode()

    rows = re.findall(r"<tr>.*?</tr>", html, flags=re.S)[1:]
    assert "Green 80" in text(rows[0]) and "up 10 from 30 days ago" in rows[0]
    assert "Red 30" in text(rows[1]) and "down 15 from 30 days ago" in rows[1]
    assert "No score" in text(rows[2])


@pytest.mark.parametrize("rows", [5, 40])
def test_accounts_list_badges_cost_no_query_per_row(
    signed_in, django_assert_num_queries, csm, rows
):
    for index in range(rows):
        with_trend(factories.AccountFactory(csm=csm), 30 + index, 50)

    # session, user, regions, segments, CSMs, count, rows (the trend is a subquery)
    with django_assert_num_queries(7):
        response = signed_in.get(ACCOUNTS_URL, {"page_size": 100})

    assert response.content.decode().count('class="health-badge') == rows


def test_risk_list_shows_the_accounts_badge(signed_in, csm):
    account = with_trend(factories.AccountFactory(csm=csm), 25, 52)
    factories.RiskRecordFactory(account=account, primary_cause=RootCause.objects.first())

    html = signed_in.get(RISKS_URL).content.decode()

    assert "Red 25" in text(html)
    assert "down 27 from 30 days ago" in html


@pytest.mark.parametrize("rows", [5, 40])
def test_risk_list_badges_cost_no_query_per_row(signed_in, django_assert_num_queries, csm, rows):
    cause = RootCause.objects.first()
    for index in range(rows):
        account = with_trend(factories.AccountFactory(csm=csm), 20 + index, 60)
        factories.RiskRecordFactory(account=account, primary_cause=cause)

    # session, user, causes, regions, segments, CSMs, managers, count, rows
    with django_assert_num_queries(9):
        response = signed_in.get(RISKS_URL, {"page_size": 100})

    assert response.content.decode().count('class="health-badge') == rows


# --- the account page's Health section ---------------------------------------------------


def measure(code, red, green, *, weight=10, dimension="current_state", **fields):
    m = factories.MeasureFactory(code=code, dimension=dimension, **fields)
    factories.ThresholdFactory(measure=m, red=Decimal(red), green=Decimal(green), weight=weight)
    return m


def observe(account, m, value, days_ago=0):
    factories.ObservationFactory(
        account=account,
        measure=m,
        value=Decimal(str(value)),
        observed_on=today() - dt.timedelta(days=days_ago),
    )


@pytest.fixture
def scorecard_account(csm):
    """Five measures of weight 10, scored for real:
    logins 60 in [20, 100] → 50 (fresh); NPS 30 in [0, 40] → 75 (fresh);
    tickets seen 60 days ago → stale, left out; company size never seen →
    missing, left out; sponsor left 10 days ago → 0.
    Score (500 + 750 + 0) / 30 = 41.7 → 42, yellow; coverage 30 / 50 = 60%.
    Current state: logins only, half its weight → 50. Fit: nothing → none.
    Interest: (750 + 0) / 20 = 37.5 → 38."""
    account = factories.AccountFactory(csm=csm, name="Northwind")
    logins = measure("logins", 20, 100, unit="logins", name="Logins")
    nps = measure("nps-score", 0, 40, dimension="interest", unit="score", name="NPS")
    tickets = measure("tickets", 10, 2, better="lower", unit="tickets", name="Open tickets")
    measure("size", 1, 4, dimension="fit", name="Company size")
    sponsor = measure(
        "sponsor-gone",
        0,
        0,
        dimension="interest",
        kind="event",
        better="",
        stale_after_days=90,
        name="Sponsor left",
    )
    observe(account, logins, 60)
    observe(account, nps, 30, days_ago=3)
    observe(account, tickets, 4, days_ago=60)
    observe(account, sponsor, 1, days_ago=10)
    score_accounts(today(), [account.pk])
    account.refresh_from_db()
    return account


def detail_url(account) -> str:
    return reverse("customer_accounts:detail", args=[account.pk])


def test_account_page_shows_score_band_coverage_and_sub_scores(signed_in, scorecard_account):
    response = signed_in.get(detail_url(scorecard_account))

    health = response.context["health"]
    assert (health.latest.score, health.latest.band, health.latest.coverage) == (
        42,
        "yellow",
        Decimal("0.6000"),
    )
    assert [(group.label, group.score) for group in health.dimensions] == [
        ("Fit", None),
        ("Current state", 50),
        ("Interest", 38),
    ]
    page = text(response.content.decode())
    assert "Yellow 42" in page
    assert "60% of the scorecard's weight" in page
    assert "Current state 50" in page and "Interest 38" in page


def test_account_page_breaks_the_score_down_by_dimension_and_measure(signed_in, scorecard_account):
    response = signed_in.get(detail_url(scorecard_account))

    rows = {
        row.name: (row.status, row.score, row.weight, row.observed_on)
        for group in response.context["health"].dimensions
        for row in group.rows
    }
    assert rows == {
        "Company size": ("missing", None, 10, None),
        "Logins": ("fresh", 50, 10, today()),
        "Open tickets": ("stale", None, 10, today() - dt.timedelta(days=60)),
        "NPS": ("fresh", 75, 10, today() - dt.timedelta(days=3)),
        "Sponsor left": ("recent", 0, 10, today() - dt.timedelta(days=10)),
    }
    html = response.content.decode()
    table = html[html.index('class="health-breakdown"') :]
    table = table[: table.index("</table>")]
    assert table.count('class="part-row') == 5
    logins_row = re.search(r'data-measure="logins">(.*?)</tr>', table, flags=re.S).group(1)
    day = today().strftime("%-d %b %Y").split()
    assert text(logins_row).split() == ["Logins", "60", "logins", *day, "Fresh", "50", "10"]
    assert "Stale" in table and "Missing" in table and "Happened recently" in table
    assert table.count("left out") == 2


def test_account_page_draws_the_score_history_with_one_point_per_score(signed_in, csm):
    account = factories.AccountFactory(csm=csm)
    scored(account, 55, days_ago=400)  # older than a year: not drawn
    for weeks_ago, score in [(20, 72), (15, 64), (10, None), (5, 41), (0, 33)]:
        scored(account, score, days_ago=7 * weeks_ago)

    response = signed_in.get(detail_url(account))

    html = response.content.decode()
    assert [point.score for point in response.context["health"].history] == [
        72,
        64,
        None,
        41,
        33,
    ]
    svg = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-health') :]
    svg = svg[: svg.index("</svg>")]
    # Four scored days are drawn; the day without a score breaks the line.
    assert svg.count('class="chart-point"') == 4
    path = re.search(r'class="chart-line-path" d="([^"]+)"', svg).group(1)
    assert path.count("M") == 2 and path.count("L") == 2
    # The band zones are shaded and named.
    for zone in ("chart-zone-red", "chart-zone-yellow", "chart-zone-green"):
        assert zone in svg
    assert 'role="img"' in svg and "Health score history" in svg
    assert "1 day had too little data for a score" in svg


def test_account_page_lists_the_ten_latest_observations_newest_first(signed_in, csm):
    account = factories.AccountFactory(csm=csm)
    logins = measure("logins", 20, 100, unit="logins", name="Logins")
    for days_ago in range(12):
        observe(account, logins, 100 + days_ago, days_ago=days_ago)

    response = signed_in.get(detail_url(account))

    observations = response.context["health"].observations
    assert [o.value for o in observations] == [Decimal(100 + d) for d in range(10)]
    assert "No health score yet" in response.content.decode()
    assert "100 logins" in response.content.decode()


@pytest.mark.parametrize("history", [2, 40])
def test_account_page_query_count_does_not_grow_with_history(
    signed_in, django_assert_num_queries, scorecard_account, history
):
    for index in range(1, history):
        scored(scorecard_account, 50 + index % 30, days_ago=index * 7)
    observe(scorecard_account, Measure.objects.get(code="logins"), 70, days_ago=1)

    # session, user, account, its risk records, newest score, its measures,
    # the score history, the latest observations, its renewals, the risk
    # rules holding
    with django_assert_num_queries(10):
        response = signed_in.get(detail_url(scorecard_account))

    assert len(response.context["health"].history) == min(history, 53)


# --- the Health page ----------------------------------------------------------------------


@pytest.fixture
def book(region, other_region, csm, other_csm):
    """Seven active accounts and one churned one:

    | account | region | segment    | ARR     | now | 30 days ago | record     | CSM   |
    | A       | EMEA   | enterprise | 100,000 | 80  | 90          |            | carl  |
    | B       | EMEA   | enterprise |  50,000 | 20  | 50          |            | carl  |
    | C       | NA     | smb        |  70,000 | 30  | 30          | open       | carl  |
    | D       | NA     | enterprise |  30,000 | 50  | 45          |            | olga  |
    | E       | NA     | smb        |  10,000 | never scored      |            | olga  |
    | F       | EMEA   | smb        |   5,000 | unknown           |            | olga  |
    | H       | EMEA   | smb        |  40,000 | 35  | 60          | saved      | olga  |
    | G       | EMEA   | smb        |  99,000 | 10  | churned     |            | olga  |
    """
    enterprise = Segment.objects.get(code="enterprise")
    smb = Segment.objects.get(code="smb")
    cause = RootCause.objects.get(code="low-usage")

    def account(name, region_, segment, arr, owner, renews_in):
        return factories.AccountFactory(
            name=name,
            region=region_,
            segment=segment,
            arr=Decimal(arr),
            csm=owner,
            renewal_date=today() + dt.timedelta(days=renews_in),
        )

    accounts = {
        "A": with_trend(account("A", region, enterprise, 100000, csm, 50), 80, 90),
        "B": with_trend(account("B", region, enterprise, 50000, csm, 90), 20, 50),
        "C": with_trend(account("C", other_region, smb, 70000, csm, 10), 30, 30),
        "D": with_trend(account("D", other_region, enterprise, 30000, other_csm, 20), 50, 45),
        "E": account("E", other_region, smb, 10000, other_csm, 30),
        "F": with_trend(account("F", region, smb, 5000, other_csm, 40), None, None),
        "H": with_trend(account("H", region, smb, 40000, other_csm, 60), 35, 60),
        "G": with_trend(account("G", region, smb, 99000, other_csm, 70), 10, None),
    }
    factories.RiskRecordFactory(account=accounts["C"], primary_cause=cause)
    factories.RiskRecordFactory(
        account=accounts["H"],
        primary_cause=cause,
        status=RiskStatus.SAVED,
        closed_at=timezone.now(),
        closed_by=other_csm,
        arr_retained=Decimal("40000"),
    )
    factories.RiskRecordFactory(
        account=accounts["G"],
        primary_cause=cause,
        status=RiskStatus.CHURNED,
        closed_at=timezone.now(),
        closed_by=other_csm,
        arr_retained=Decimal("0"),
    )
    accounts["G"].status = AccountStatus.CHURNED
    accounts["G"].churned_on = today()
    accounts["G"].save()
    return accounts


def cells(row) -> dict[str, tuple[int, Decimal]]:
    return {cell.band: (cell.count, cell.arr) for cell in row.cells} | {"all": (row.count, row.arr)}


def test_health_page_counts_accounts_and_arr_by_band_per_segment(signed_in, book):
    response = signed_in.get(HEALTH_URL)

    assert response.status_code == 200
    by_segment = {row.name: cells(row) for row in response.context["by_segment"]}
    assert by_segment == {
        "Enterprise": {
            "green": (1, Decimal("100000")),
            "yellow": (1, Decimal("30000")),
            "red": (1, Decimal("50000")),
            "unknown": (0, Decimal("0")),
            "all": (3, Decimal("180000")),
        },
        "SMB": {
            "green": (0, Decimal("0")),
            "yellow": (0, Decimal("0")),
            "red": (2, Decimal("110000")),
            "unknown": (2, Decimal("15000")),
            "all": (4, Decimal("125000")),
        },
    }
    assert cells(response.context["totals"]) == {
        "green": (1, Decimal("100000")),
        "yellow": (1, Decimal("30000")),
        "red": (3, Decimal("160000")),
        "unknown": (2, Decimal("15000")),
        "all": (7, Decimal("305000")),
    }
    # The chart above the table: one bar per segment; SMB's ARR is 88% red
    # (110,000 of 125,000) and 12% without a score.
    html = response.content.decode()
    svg = html[html.index('id="bands-by-segment-chart"') :]
    svg = svg[: svg.index("</svg>")]
    assert svg.count('<g class="chart-row">') == 2
    assert "SMB, Red: 88%" in svg and "SMB, No score: 12%" in svg


def test_health_page_counts_accounts_and_arr_by_band_per_region(signed_in, book):
    response = signed_in.get(HEALTH_URL)

    by_region = {row.code: cells(row) for row in response.context["by_region"]}
    assert by_region == {
        "EMEA": {
            "green": (1, Decimal("100000")),
            "yellow": (0, Decimal("0")),
            "red": (2, Decimal("90000")),
            "unknown": (1, Decimal("5000")),
            "all": (4, Decimal("195000")),
        },
        "NA": {
            "green": (0, Decimal("0")),
            "yellow": (1, Decimal("30000")),
            "red": (1, Decimal("70000")),
            "unknown": (1, Decimal("10000")),
            "all": (3, Decimal("110000")),
        },
    }
    table = response.content.decode()
    table = table[table.index('id="bands-by-region"') :]
    assert "195,000" in table and "110,000" in table


def test_health_page_lists_the_biggest_drops_largest_first(signed_in, book):
    response = signed_in.get(HEALTH_URL)

    drops = [
        (a.name, a.health_previous_score, a.health_score, a.health_drop)
        for a in response.context["drops"]
    ]
    # B 50 → 20, H 60 → 35, A 90 → 80; C is level, D rose, G churned.
    assert drops == [("B", 50, 20, 30), ("H", 60, 35, 25), ("A", 90, 80, 10)]


def test_biggest_drops_stop_at_twenty(signed_in, csm):
    for index in range(25):
        with_trend(factories.AccountFactory(csm=csm), 40, 41 + index)

    drops = signed_in.get(HEALTH_URL).context["drops"]

    assert [account.health_drop for account in drops] == list(range(25, 5, -1))


def test_accountability_list_is_red_accounts_without_an_open_record(signed_in, book):
    response = signed_in.get(HEALTH_URL)

    # C has an open record; G churned; H's record is closed, so H is listed.
    # Soonest renewal first: H in 60 days, B in 90.
    assert [account.name for account in response.context["unfiled"]] == ["H", "B"]
    section = response.content.decode()
    section = section[section.index('id="unfiled"') : section.index('id="drops"')]
    assert "2 red accounts without a risk record" in text(section)
    assert "Red 35" in text(section) and "down 25 from 30 days ago" in section


def test_accountability_list_drops_an_account_once_its_record_is_filed(signed_in, book):
    factories.RiskRecordFactory(
        account=book["B"], primary_cause=RootCause.objects.get(code="defects")
    )

    response = signed_in.get(HEALTH_URL)

    assert [account.name for account in response.context["unfiled"]] == ["H"]


def test_filters_narrow_every_section(signed_in, book):
    response = signed_in.get(HEALTH_URL, {"region": "EMEA", "segment": "smb"})

    assert [row.name for row in response.context["by_segment"]] == ["SMB"]
    assert [row.code for row in response.context["by_region"]] == ["EMEA"]
    assert cells(response.context["totals"])["all"] == (2, Decimal("45000"))
    assert [account.name for account in response.context["unfiled"]] == ["H"]
    assert [account.name for account in response.context["drops"]] == ["H"]


def test_an_unknown_region_is_a_400_with_the_error_next_to_the_filter(signed_in, book):
    response = signed_in.get(HEALTH_URL, {"region": "MARS"})

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert "unfiled" not in response.context


FILE_LINK = re.compile(r'href="/risks/new/\?account=(\d+)"')


@pytest.mark.parametrize(
    ("role", "may_file_on"),
    [
        ("csm", {"B"}),  # carl's own
        ("manager", {"B"}),  # maria leads carl
        ("other_manager", {"H"}),  # otto leads olga
        ("other_csm", {"H"}),  # olga's own
        ("reviewer", set()),
        ("admin_user", {"B", "H"}),
    ],
)
def test_every_role_reads_the_same_page_and_files_only_where_it_may(
    client, request, book, role, may_file_on
):
    client.force_login(request.getfixturevalue(role))

    response = client.get(HEALTH_URL)

    assert response.status_code == 200
    assert [account.name for account in response.context["unfiled"]] == ["H", "B"]
    assert cells(response.context["totals"])["all"] == (7, Decimal("305000"))
    names = {str(account.pk): account.name for account in book.values()}
    linked = {names[pk] for pk in FILE_LINK.findall(response.content.decode())}
    assert linked == may_file_on


def test_a_csm_can_narrow_the_page_to_their_own_accounts(signed_in, book):
    response = signed_in.get(HEALTH_URL, {"owner": "mine"})

    # carl owns A, B and C.
    assert cells(response.context["totals"])["all"] == (3, Decimal("220000"))
    assert [account.name for account in response.context["unfiled"]] == ["B"]


def test_a_manager_can_narrow_the_page_to_their_team(client, other_manager, book):
    client.force_login(other_manager)

    response = client.get(HEALTH_URL, {"owner": "team"})

    # otto leads olga: D, E, F, H are active.
    assert cells(response.context["totals"])["all"] == (4, Decimal("85000"))


def test_a_reviewer_is_not_offered_whose_accounts(client, reviewer, book):
    client.force_login(reviewer)

    response = client.get(HEALTH_URL)

    assert "owner" not in response.context["form"].fields


def test_the_file_link_prefills_the_account(signed_in, book):
    html = signed_in.get(HEALTH_URL).content.decode()

    link = reverse("risks:file") + f"?account={book['B'].pk}"
    assert f'href="{link}"' in html
    page = signed_in.get(link).content.decode()
    assert f'<option value="{book["B"].pk}" selected>' in page


def test_the_navigation_links_the_health_page(signed_in):
    html = signed_in.get(reverse("home")).content.decode()

    assert f'href="{HEALTH_URL}"' in html


@pytest.mark.parametrize("rows", [4, 40])
def test_health_page_query_count_does_not_grow_with_accounts(
    signed_in, django_assert_num_queries, csm, other_csm, rows
):
    cause = RootCause.objects.get(code="low-usage")
    for index in range(rows):
        account = with_trend(
            factories.AccountFactory(csm=csm if index % 2 else other_csm), 10 + index, 60
        )
        if index % 3 == 0:
            factories.RiskRecordFactory(account=account, primary_cause=cause)

    # session, user, regions, segments (the filter's choices), totals, by
    # segment, by region, drops, the accountability list's count and rows
    with django_assert_num_queries(10):
        response = signed_in.get(HEALTH_URL)

    assert response.status_code == 200
    # Red: scores 10 to 39; every third account has an open record.
    unfiled = [index for index in range(rows) if 10 + index < 40 and index % 3]
    assert len(response.context["unfiled"]) == len(unfiled)
