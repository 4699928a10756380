"""Accounts in bulk through the import framework: a CSV file keyed on the
external id creates the accounts it does not know and updates those it does,
names every bad row by its spreadsheet row and column before anything is
written, finds regions, segments and owners in any case, never changes an
account's status, and is for CS operations admins only.

Vendor-neutral on purpose: tests/accounts/test_sqlite_parity.py runs this
module again on SQLite."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account, AccountStatus, Region, Segment
from core.imports import get_importer, import_job_run, import_job_validate, import_records
from core.models import ImportJob, ImportStatus
from tests import factories

pytestmark = pytest.mark.django_db

HEADER = "external_id,name,region,segment,csm,arr,renewal_date\n"
RENEWAL = dt.date(2026, 9, 30)


@pytest.fixture
def enterprise() -> Segment:
    return Segment.objects.get(code="enterprise")


@pytest.fixture
def smb() -> Segment:
    return Segment.objects.get(code="smb")


def csv_job(text: str, user=None) -> ImportJob:
    return ImportJob.objects.create(
        kind="accounts",
        created_by=user or factories.AdminFactory(),
        filename="accounts.csv",
        content=text.encode(),
        size=len(text.encode()),
    )


def validated(text: str) -> ImportJob:
    job = csv_job(text)
    import_job_validate(job.pk)
    job.refresh_from_db()
    return job


def imported(job: ImportJob) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING)
    import_job_run(job.pk)
    job.refresh_from_db()
    return job


def errors_of(job: ImportJob) -> list[tuple]:
    return [(e["row"], e["field"], e["message"]) for e in job.errors]


def fields_of(account: Account) -> tuple:
    account.refresh_from_db()
    return (
        account.name,
        account.region.code,
        account.segment.code,
        account.csm.username,
        account.arr,
        account.renewal_date,
        account.status,
        account.churned_on,
    )


# --- the preview: every bad row, nothing written ----------------------------------------------


def test_the_preview_names_every_bad_row_by_row_and_column_and_writes_nothing(
    region, enterprise, csm, manager, reviewer, admin_user
):
    kept = factories.AccountFactory(
        external_id="CRM-KEPT", name="Kept AG", region=region, segment=enterprise, csm=csm
    )
    factories.CsmFactory(username="gone", email="gone@example.com", is_active=False)
    before = fields_of(kept)
    long_name = "N" * 201
    long_id = "X" * 65
    text = (
        HEADER  # row 1
        + "CRM-KEPT,Kept AG renamed,EMEA,enterprise,carl,1000,2026-09-30\n"  # 2: good
        + "CRM-3,Three,MARS,enterprise,carl,1000,2026-09-30\n"  # 3
        + "CRM-4,Four,EMEA,galactic,carl,1000,2026-09-30\n"  # 4
        + "CRM-5,Five,EMEA,enterprise,nobody,1000,2026-09-30\n"  # 5
        + "CRM-6,Six,EMEA,enterprise,gone,1000,2026-09-30\n"  # 6: deactivated
        + "CRM-7,Seven,EMEA,enterprise,rita,1000,2026-09-30\n"  # 7: a reviewer
        + "CRM-8,Eight,EMEA,enterprise,ada,1000,2026-09-30\n"  # 8: an admin
        + "CRM-9,Nine,EMEA,enterprise,carl,-1,2026-09-30\n"  # 9
        + 'CRM-10,Ten,EMEA,enterprise,carl,"1,000",2026-09-30\n'  # 10
        + "CRM-11,Eleven,EMEA,enterprise,carl,12.345,2026-09-30\n"  # 11
        + "CRM-12,Twelve,EMEA,enterprise,carl,1000,30/09/2026\n"  # 12
        + "CRM-13,Thirteen,EMEA,enterprise,carl,1000,2026-02-30\n"  # 13
        + "CRM-14,Fourteen,EMEA,enterprise,carl,1000,9999-01-01\n"  # 14
        + "CRM-15,,EMEA,enterprise,carl,1000,2026-09-30\n"  # 15: no name
        + ",Sixteen,EMEA,enterprise,carl,1000,2026-09-30\n"  # 16: no external id
        + "CRM-KEPT,Again,EMEA,enterprise,carl,1000,2026-09-30\n"  # 17: repeat of row 2
        + f"CRM-18,{long_name},EMEA,enterprise,carl,1000,2026-09-30\n"  # 18
        + f"{long_id},Nineteen,EMEA,enterprise,carl,1000,2026-09-30\n"  # 19
        + "CRM-20,Twenty,EMEA,,,1000,2026-09-30\n"  # 20: no segment, no CSM
        + "CRM-21,Twenty-one,EMEA\n"  # 21: short
    )

    job = validated(text)

    money = (
        "Enter an amount such as 125000 or 99500.50: at most 12 digits before the decimal "
        "point and 2 after it, without thousands separators or a currency."
    )
    bad_date = "Enter a date as YYYY-MM-DD, e.g. 2026-06-30."
    owner = "an account's owner must be an active CSM or manager."
    assert job.status == ImportStatus.INVALID
    assert errors_of(job) == [
        (3, "region", 'No region has the code "MARS".'),
        (4, "segment", 'No segment has the code or name "galactic".'),
        (5, "csm", 'No person has the username or email "nobody".'),
        (6, "csm", f'"gone" is deactivated: {owner}'),
        (7, "csm", f'"rita" is a reviewer: {owner}'),
        (8, "csm", f'"ada" is a CS operations admin: {owner}'),
        (9, "arr", "The ARR cannot be negative."),
        (10, "arr", money),
        (11, "arr", money),
        (12, "renewal_date", bad_date),
        (13, "renewal_date", bad_date),
        (14, "renewal_date", "Enter a date between 1900-01-01 and 9000-12-31."),
        (15, "name", "A value is required."),
        (16, "external_id", "A value is required."),
        (17, "external_id", "Same external id as row 2."),
        (18, "name", "The name has 201 characters; at most 200 fit."),
        (19, "external_id", "The external id has 65 characters; at most 64 fit."),
        (20, "segment", "A value is required."),
        (20, "csm", "A value is required."),
        (21, None, "This row has 3 cells; the header has 7."),
    ]
    assert job.error_count == 20
    assert Account.objects.count() == 1
    assert fields_of(kept) == before


def test_a_header_missing_columns_is_an_error_of_row_one():
    job = validated("external_id,name,arr\nCRM-1,One,10\n")
    assert errors_of(job) == [
        (1, "region", "The column “region” is missing."),
        (1, "segment", "The column “segment” is missing."),
        (1, "csm", "The column “csm” is missing."),
        (1, "renewal_date", "The column “renewal_date” is missing."),
    ]


# --- creating and updating --------------------------------------------------------------------


def test_a_good_file_creates_the_new_accounts_and_updates_the_known_ones(
    region, other_region, enterprise, smb, csm, manager
):
    first = factories.AccountFactory(
        external_id="CRM-1", name="Old One", region=region, segment=enterprise, csm=manager
    )
    second = factories.AccountFactory(
        external_id="CRM-2",
        name="Old Two",
        region=region,
        segment=enterprise,
        csm=csm,
        arr=Decimal("5000"),
    )
    Account.objects.filter(pk=first.pk).update(health_score=71, health_band="green")
    untouched = factories.AccountFactory(external_id="CRM-9", name="Not in the file", csm=csm)
    untouched_before = fields_of(untouched)
    text = (
        HEADER
        + "CRM-1,New One,NA,smb,carl,120000.50,2026-09-30\n"
        + "CRM-2,Old Two,EMEA,enterprise,carl,0,2027-01-31\n"
        + "CRM-3,Three Ltd,EMEA,smb,maria,45000,2026-12-31\n"
        + "\n"
        + "CRM-4,Four Inc.,NA,enterprise,carl,99.9,2026-10-01\n"
        + "crm-1,Another Account,EMEA,smb,maria,1,2026-10-02\n"
    )

    job = validated(text)
    assert (job.status, job.total_rows, job.error_count) == (ImportStatus.READY, 5, 0)
    assert Account.objects.count() == 3, "the check writes nothing"

    job = imported(job)

    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.updated_count) == (3, 2)
    assert Account.objects.count() == 6
    assert fields_of(first) == (
        "New One",
        "NA",
        "smb",
        "carl",
        Decimal("120000.50"),
        RENEWAL,
        AccountStatus.ACTIVE,
        None,
    )
    assert (first.health_score, first.health_band) == (71, "green")
    assert fields_of(second)[3:5] == ("carl", Decimal("0.00"))
    assert second.renewal_date == dt.date(2027, 1, 31)
    created = {a.external_id: a for a in Account.objects.filter(external_id__startswith="CRM-")}
    assert fields_of(created["CRM-3"]) == (
        "Three Ltd",
        "EMEA",
        "smb",
        "maria",
        Decimal("45000.00"),
        dt.date(2026, 12, 31),
        AccountStatus.ACTIVE,
        None,
    )
    assert fields_of(created["CRM-4"])[:5] == (
        "Four Inc.",
        "NA",
        "enterprise",
        "carl",
        Decimal("99.90"),
    )
    # External ids are the CRM's: matched exactly, so crm-1 is another account.
    assert Account.objects.get(external_id="crm-1").name == "Another Account"
    assert created["CRM-4"].health_band == ""
    assert fields_of(untouched) == untouched_before


def test_importing_the_same_file_again_changes_nothing(region, enterprise, csm):
    text = (
        HEADER
        + "CRM-1,One,EMEA,enterprise,carl,1000,2026-09-30\n"
        + "CRM-2,Two,EMEA,smb,carl,2000.5,2026-10-31\n"
    )
    first = imported(validated(text))
    assert (first.created_count, first.updated_count) == (2, 0)
    before = {a.external_id: fields_of(a) for a in Account.objects.all()}
    ids = set(Account.objects.values_list("pk", flat=True))

    again = imported(validated(text))

    # Every row names a stored account: the framework counts each as updated.
    assert (again.status, again.created_count, again.updated_count) == (ImportStatus.DONE, 0, 2)
    assert set(Account.objects.values_list("pk", flat=True)) == ids
    assert {a.external_id: fields_of(a) for a in Account.objects.all()} == before


def test_a_churned_account_keeps_its_status_while_its_fields_are_updated(region, enterprise, csm):
    churned = factories.AccountFactory(external_id="CRM-GONE", region=region, csm=csm)
    Account.objects.filter(pk=churned.pk).update(
        status=AccountStatus.CHURNED, churned_on=dt.date(2026, 1, 31)
    )

    job = imported(validated(HEADER + "CRM-GONE,Gone Corp,EMEA,smb,carl,0,2026-12-31\n"))

    assert (job.created_count, job.updated_count) == (0, 1)
    assert fields_of(churned) == (
        "Gone Corp",
        "EMEA",
        "smb",
        "carl",
        Decimal("0.00"),
        dt.date(2026, 12, 31),
        AccountStatus.CHURNED,
        dt.date(2026, 1, 31),
    )


# --- finding regions, segments and owners ------------------------------------------------------


def test_regions_segments_and_owners_are_found_in_any_case(region, enterprise, csm, manager):
    text = (
        HEADER
        + "CRM-1,One,emea,ENTERPRISE,CARL,1,2026-09-30\n"  # codes, a username
        + "CRM-2,Two,Emea,Mid-Market,Maria@Example.COM,2,2026-09-30\n"  # a name, an email
        + "CRM-3,Three,EMEA,sMb,carl@example.com,3,2026-09-30\n"
        + "CRM-4,Four,EMEA,strategic,maria,4,2026-09-30\n"
    )

    job = imported(validated(text))

    assert (job.status, job.created_count) == (ImportStatus.DONE, 4)
    found = [
        (a.external_id, a.region.code, a.segment.code, a.csm.username)
        for a in Account.objects.select_related("region", "segment", "csm").order_by("pk")
    ]
    assert found == [
        ("CRM-1", "EMEA", "enterprise", "carl"),
        ("CRM-2", "EMEA", "mid-market", "maria"),
        ("CRM-3", "EMEA", "smb", "carl"),
        ("CRM-4", "EMEA", "strategic", "maria"),
    ]


def test_an_exact_code_wins_and_a_cell_matching_several_is_an_error(region, csm, manager):
    lower_emea = factories.RegionFactory(code="emea", name="Lower-case EMEA")
    # A segment whose code is another segment's name.
    factories.SegmentFactory(code="Enterprise", name="Big accounts")
    factories.CsmFactory(username="carla", email="team@example.com")
    factories.CsmFactory(username="Carla", email="team@example.com")
    factories.ReviewerFactory(username="Carl")
    text = (
        HEADER
        + "CRM-1,One,emea,enterprise,carl,1,2026-09-30\n"  # 2: exact matches
        + "CRM-2,Two,Emea,ENTERPRISE,team@example.com,1,2026-09-30\n"  # 3: all ambiguous
        + "CRM-3,Three,EMEA,Big Accounts,CARLA,1,2026-09-30\n"  # 4: CARLA is ambiguous
        + "CRM-4,Four,EMEA,Enterprise,Carla,1,2026-09-30\n"  # 5: exact matches
    )

    job = validated(text)

    assert errors_of(job) == [
        (3, "region", '"Emea" matches 2 region codes in different cases; write the code exactly.'),
        (3, "segment", '"ENTERPRISE" matches 2 segments by code or name; write the code exactly.'),
        (
            3,
            "csm",
            '"team@example.com" names 2 active CSMs or managers (an email address they share); '
            "give the username.",
        ),
        (
            4,
            "csm",
            '"CARLA" names 2 active CSMs or managers (an email address they share); '
            "give the username.",
        ),
    ]

    # Without the ambiguous row, the exact codes and usernames decide.
    lines = text.splitlines()
    job = imported(validated("\n".join([lines[0], lines[1], lines[4]]) + "\n"))
    assert job.status == ImportStatus.DONE
    one, four = Account.objects.order_by("external_id")
    assert (one.region_id, one.segment.code, one.csm.username) == (
        lower_emea.pk,
        "enterprise",
        "carl",
    )
    assert (four.region.code, four.segment.code, four.csm.username) == (
        "EMEA",
        "Enterprise",
        "Carla",
    )


def test_a_username_in_another_case_of_an_inactive_person_finds_the_active_owner(region, csm):
    factories.CsmFactory(username="CARL", email="old-carl@example.com", is_active=False)

    job = imported(validated(HEADER + "CRM-1,One,EMEA,smb,Carl,1,2026-09-30\n"))

    assert job.status == ImportStatus.DONE
    assert Account.objects.get().csm == csm


# --- nothing half-written --------------------------------------------------------------------


def test_the_import_checks_again_and_writes_nothing_when_the_csm_left_meanwhile(
    region, csm, manager
):
    job = validated(
        HEADER
        + "CRM-1,One,EMEA,smb,maria,1,2026-09-30\n"
        + "CRM-2,Two,EMEA,smb,carl,1,2026-09-30\n"
    )
    assert job.status == ImportStatus.READY
    csm.is_active = False
    csm.save(update_fields=["is_active"])

    job = imported(job)

    assert job.status == ImportStatus.INVALID
    assert errors_of(job) == [
        (3, "csm", '"carl" is deactivated: an account\'s owner must be an active CSM or manager.')
    ]
    assert not Account.objects.exists()


def test_a_region_deleted_after_the_check_is_reported_at_import(region, csm):
    extra = Region.objects.create(
        code="MARS", name="Mars", timezone="UTC", review_weekday=0, review_time=dt.time(9)
    )
    job = validated(HEADER + "CRM-1,One,MARS,smb,carl,1,2026-09-30\n")
    assert job.status == ImportStatus.READY
    extra.delete()

    job = imported(job)

    assert errors_of(job) == [(2, "region", 'No region has the code "MARS".')]
    assert not Account.objects.exists()


def test_records_take_a_fixed_number_of_queries_whatever_their_number(region, csm):
    def record(n: int) -> dict:
        return {
            "external_id": f"CRM-{n}",
            "name": f"Account {n}",
            "region": "emea",
            "segment": "SMB",
            "csm": "carl",
            "arr": "1000.00",
            "renewal_date": "2026-09-30",
        }

    def queries(first: int, count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            import_records(
                "accounts", [record(n) for n in range(first, first + count)], source="api"
            )
        return len(captured)

    assert queries(0, 3) == queries(100, 300)
    assert Account.objects.count() == 303


# --- the pages ------------------------------------------------------------------------------


def upload_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("accounts.csv", text.encode(), content_type="text/csv")


def upload_url() -> str:
    return reverse("imports:upload", args=["accounts"])


def job_url(job: ImportJob) -> str:
    return reverse("imports:job", args=[job.kind, job.pk])


def start_url(job: ImportJob) -> str:
    return reverse("imports:start", args=[job.kind, job.pk])


def test_the_importer_is_registered_with_its_columns():
    importer = get_importer("accounts")
    assert (importer.title, importer.key) == ("Accounts", ("external_id",))
    assert importer.column_names == [
        "external_id",
        "name",
        "region",
        "segment",
        "csm",
        "arr",
        "renewal_date",
    ]
    assert importer.sample_header == HEADER.strip()


def test_the_upload_page_describes_every_column(admin_client):
    index = admin_client.get(reverse("imports:index")).content.decode()
    assert f'href="{upload_url()}"' in index

    response = admin_client.get(upload_url())

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Import accounts</h1>" in page
    assert f"<code>{HEADER.strip()}</code>" in page
    for column in get_importer("accounts").columns:
        assert f"<dt><code>{column.name}</code></dt>" in page
        assert column.help in page.replace("&#x27;", "'")


def test_upload_preview_import_and_outcome_through_the_pages(
    admin_client, admin_user, region, csm, django_capture_on_commit_callbacks
):
    known = factories.AccountFactory(external_id="CRM-KNOWN", name="Known", region=region, csm=csm)
    csv_text = (
        HEADER
        + "CRM-KNOWN,Known Renamed,EMEA,smb,carl,777,2026-09-30\n"
        + "CRM-NEW,Brand New,emea,Enterprise,carl@example.com,1500.25,2026-11-30\n"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(upload_url(), {"file": upload_file(csv_text)})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job_url(job)
    assert (job.kind, job.created_by, job.status) == ("accounts", admin_user, "ready")

    page = admin_client.get(job_url(job)).content.decode()
    assert "No errors in 2 rows. Nothing has been written yet." in page
    assert "Import 2 rows" in page
    assert Account.objects.count() == 1
    assert fields_of(known)[0] == "Known"

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(start_url(job)).status_code == 302

    page = admin_client.get(job_url(job)).content.decode()
    assert "Done: 1 created, 1 updated." in page
    assert fields_of(known)[:5] == ("Known Renamed", "EMEA", "smb", "carl", Decimal("777.00"))
    new = Account.objects.get(external_id="CRM-NEW")
    assert (new.name, new.segment.code, new.arr) == ("Brand New", "enterprise", Decimal("1500.25"))


def test_a_file_with_errors_lists_them_and_offers_no_import(
    admin_client, region, csm, django_capture_on_commit_callbacks
):
    csv_text = (
        HEADER
        + "CRM-1,One,EMEA,smb,carl,10,2026-09-30\n"
        + "CRM-2,Two,EMEA,smb,nobody,10,2026-09-30\n"
        + "CRM-3,Three,EMEA,smb,carl,-5,2026-09-30\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(upload_url(), {"file": upload_file(csv_text)})
    job = ImportJob.objects.get()

    page = admin_client.get(job_url(job)).content.decode()

    assert job.status == ImportStatus.INVALID
    assert "2 errors: nothing can be imported from this file." in page
    assert '<td class="num">3</td><td><code>csm</code></td>' in page
    assert "No person has the username or email &quot;nobody&quot;." in page
    assert '<td class="num">4</td><td><code>arr</code></td>' in page
    assert "The ARR cannot be negative." in page
    assert "Import 3 rows" not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(start_url(job), follow=True)
    assert "Only a checked file without errors can be imported." in response.content.decode()
    assert not Account.objects.exists()


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer"])
def test_only_cs_admins_reach_the_account_import(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(upload_url()).status_code == 403
    assert client.post(upload_url(), {"file": upload_file(HEADER)}).status_code == 403
    assert not ImportJob.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(upload_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("role", "linked"), [("admin_user", True), ("csm", False)])
def test_the_account_list_links_to_the_import_for_admins_only(client, request, role, linked):
    client.force_login(request.getfixturevalue(role))

    html = client.get(reverse("customer_accounts:list")).content.decode()

    link = re.search(rf'<a [^>]*href="{re.escape(upload_url())}"[^>]*>Import accounts</a>', html)
    assert bool(link) is linked
