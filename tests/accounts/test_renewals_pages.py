"""Renewals on the pages: the generic import pages take a renewals file
(upload → preview with every row error → import → done, the churned account
marked), and the account page lists the account's renewals, newest first,
in one query whatever their number.

Vendor-neutral on purpose: tests/accounts/test_sqlite_parity.py runs this
module again on SQLite."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AccountStatus, Renewal
from core.models import ImportJob, ImportStatus
from tests import factories

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 31)
HEADER = "account_external_id,renewal_date,outcome,arr_before,arr_after\n"


def upload_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("renewals.csv", text.encode(), content_type="text/csv")


def upload_url() -> str:
    return reverse("imports:upload", args=["renewals"])


def job_url(job: ImportJob) -> str:
    return reverse("imports:job", args=[job.kind, job.pk])


def start_url(job: ImportJob) -> str:
    return reverse("imports:start", args=[job.kind, job.pk])


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- the import pages ------------------------------------------------------------------------


def test_the_index_offers_renewals_and_the_upload_page_shows_its_columns(admin_client):
    index = admin_client.get(reverse("imports:index")).content.decode()
    assert "Import renewals" in index
    assert f'href="{upload_url()}"' in index

    response = admin_client.get(upload_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert HEADER.strip() in page
    for column in (
        "account",
        "account_external_id",
        "renewal_date",
        "outcome",
        "arr_before",
        "arr_after",
    ):
        assert f"<code>{column}</code>" in page


def test_upload_preview_import_and_outcome_through_the_pages(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    kept = factories.AccountFactory(external_id="CRM-KEPT")
    lost = factories.AccountFactory(external_id="CRM-LOST")
    factories.RenewalFactory(account=kept, renewal_date=DAY, outcome="renewed")
    csv_text = (
        HEADER
        + f"CRM-KEPT,{DAY},downsell,120000,90000\n"
        + f"CRM-LOST,{DAY},churned,45000,\n"
        + f"CRM-KEPT,{DAY - dt.timedelta(days=365)},renewed,100000,120000\n"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(upload_url(), {"file": upload_file(csv_text)})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job_url(job)
    assert (job.kind, job.created_by, job.status) == ("renewals", admin_user, "ready")

    page = admin_client.get(job_url(job)).content.decode()
    assert "No errors in 3 rows. Nothing has been written yet." in page
    assert "Import 3 rows" in page
    assert Renewal.objects.count() == 1
    lost.refresh_from_db()
    assert lost.status == AccountStatus.ACTIVE

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(start_url(job)).status_code == 302

    page = admin_client.get(job_url(job)).content.decode()
    assert "Done: 2 created, 1 updated." in page
    assert Renewal.objects.count() == 3
    assert Renewal.objects.get(account=kept, renewal_date=DAY).outcome == "downsell"
    lost.refresh_from_db()
    kept.refresh_from_db()
    assert (lost.status, lost.churned_on) == (AccountStatus.CHURNED, DAY)
    assert kept.status == AccountStatus.ACTIVE


def test_a_file_with_errors_lists_them_and_offers_no_import(
    admin_client, django_capture_on_commit_callbacks
):
    account = factories.AccountFactory(external_id="CRM-ONE")
    csv_text = (
        HEADER
        + f"CRM-ONE,{DAY},churned,45000,\n"
        + f"CRM-NONE,{DAY},renewed,10,10\n"
        + f"CRM-ONE,{DAY - dt.timedelta(days=1)},lost,10,10\n"
        + f"CRM-ONE,{DAY - dt.timedelta(days=2)},downsell,10,10\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(upload_url(), {"file": upload_file(csv_text)})
    job = ImportJob.objects.get()

    page = admin_client.get(job_url(job)).content.decode()

    assert job.status == ImportStatus.INVALID
    assert "3 errors: nothing can be imported from this file." in page
    assert "No account has the external id &quot;CRM-NONE&quot;." in page
    assert '<td class="num">4</td><td><code>outcome</code></td>' in page
    assert "Unknown outcome &quot;lost&quot;. The outcomes are: renewed, downsell, churned." in page
    assert '<td class="num">5</td><td><code>arr_after</code></td>' in page
    assert "A downsell ends below the ARR before" in page
    assert "Import 4 rows" not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(start_url(job), follow=True)
    assert "Only a checked file without errors can be imported." in response.content.decode()
    assert not Renewal.objects.exists()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer"])
def test_only_cs_admins_reach_the_renewal_import(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(upload_url()).status_code == 403
    assert client.post(upload_url(), {"file": upload_file(HEADER)}).status_code == 403
    assert not ImportJob.objects.exists()


# --- the account page ------------------------------------------------------------------------


def detail_url(account) -> str:
    return reverse("customer_accounts:detail", args=[account.pk])


def renewals_section(html: str) -> str:
    return html[html.index('id="renewals"') :].split("</section>")[0]


def test_the_account_page_lists_its_renewals_newest_first(client, csm, account):
    other = factories.AccountFactory()
    factories.RenewalFactory(account=other, renewal_date=DAY, arr_before=Decimal("777777"))
    factories.RenewalFactory(
        account=account,
        renewal_date=dt.date(2024, 3, 31),
        outcome="renewed",
        arr_before=Decimal("100000"),
        arr_after=Decimal("120000"),
    )
    factories.RenewalFactory(
        account=account,
        renewal_date=dt.date(2026, 3, 31),
        outcome="churned",
        arr_before=Decimal("90000.50"),
    )
    factories.RenewalFactory(
        account=account,
        renewal_date=dt.date(2025, 3, 31),
        outcome="downsell",
        arr_before=Decimal("120000"),
        arr_after=Decimal("90000.50"),
    )
    client.force_login(csm)

    section = text(renewals_section(client.get(detail_url(account)).content.decode()))

    assert "Renewal date Outcome ARR before (USD) ARR after (USD)" in section
    rows = section.split("ARR after (USD)")[1]
    assert rows.strip() == (
        "31 Mar 2026 Churned 90,000.50 → 0 "
        "31 Mar 2025 Downsell 120,000 → 90,000.50 "
        "31 Mar 2024 Renewed 100,000 → 120,000"
    )
    assert "777,777" not in section


def test_an_account_without_renewals_says_so(client, csm, account):
    client.force_login(csm)
    html = client.get(detail_url(account)).content.decode()
    assert "No renewals recorded." in renewals_section(html)


@pytest.mark.parametrize("count", [1, 15])
def test_the_renewals_cost_one_query_whatever_their_number(
    client, csm, account, django_assert_max_num_queries, count
):
    for year in range(count):
        factories.RenewalFactory(account=account, renewal_date=dt.date(2025 - year, 6, 30))
    client.force_login(csm)

    # session, user, account, its risk records, its newest health score, its
    # latest observations, its renewals, the risk rules holding for it
    with django_assert_max_num_queries(8):
        response = client.get(detail_url(account))

    assert len(response.context["renewals"]) == count
    assert renewals_section(response.content.decode()).count("<tr>") == count + 1
