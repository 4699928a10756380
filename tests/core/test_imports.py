"""The import framework (core.imports) and its pages, through the one importer
registered today (observations): reading and typing cells, the upload form,
the preview of every row error, starting an import once, progress, failures,
the tasks, and who may do it."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core import imports, tasks
from core.exceptions import Conflict, NotAllowed
from core.import_jobs import import_job_create, import_job_start
from core.imports import Column, Importer, RowError, header_errors
from core.models import ImportJob, ImportStatus
from health.models import Observation
from tests import factories

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 6, 30)
HEADER = "account_external_id,measure,observed_on,value\n"


@pytest.fixture(autouse=True)
def no_rescoring():
    with mock.patch("health.tasks.score_some_accounts.delay"):
        yield


@pytest.fixture
def logins():
    return factories.MeasureFactory(code="logins-core")


@pytest.fixture
def customer():
    return factories.AccountFactory(external_id="CRM-1")


def good_csv(customer, logins, rows: int = 3) -> str:
    return HEADER + "".join(
        f"{customer.external_id},{logins.code},{DAY - dt.timedelta(days=n)},{n}\n"
        for n in range(rows)
    )


def upload_file(text: str | bytes, name: str = "observations.csv") -> SimpleUploadedFile:
    content = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, content, content_type="text/csv")


def upload_url(kind: str = "observations") -> str:
    return reverse("imports:upload", args=[kind])


def job_url(job: ImportJob) -> str:
    return reverse("imports:job", args=[job.kind, job.pk])


def start_url(job: ImportJob) -> str:
    return reverse("imports:start", args=[job.kind, job.pk])


# --- cells and headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("118", Decimal("118")),
        ("-42.5", Decimal("-42.5")),
        ("+.5", Decimal("0.5")),
        ("1.2300", Decimal("1.23")),
        ("99999999999999.9999", Decimal("99999999999999.9999")),
        ("100000000000000", None),  # 15 digits before the point
        ("1.23456", None),  # 5 places
        ("1,5", None),
        ("1 000", None),
        ("1_000", None),
        ("1e3", None),
        ("NaN", None),
        ("Infinity", None),
        ("١٢", None),  # Arabic-Indic digits
        ("", None),
    ],
)
def test_a_decimal_cell_parses_strictly(text, expected):
    assert Column("value", "", type="decimal").parse(text) == expected


@pytest.mark.parametrize(
    ("column_type", "text", "expected"),
    [
        ("integer", "42", 42),
        ("integer", "-1", None),
        ("integer", "4.0", None),
        ("integer", "²", None),
        ("integer", "9" * 19, None),
        ("date", "2026-06-30", DAY),
        ("date", "2026-02-29", None),
        ("date", "2026-6-30", None),
        ("date", "30/06/2026", None),
        ("date", "20260630", None),
        ("text", "anything", "anything"),
    ],
)
def test_integer_and_date_cells_parse_strictly(column_type, text, expected):
    assert Column("c", "", type=column_type).parse(text) == expected


@pytest.mark.parametrize(
    ("column_type", "texts"),
    [
        (
            "decimal",
            [
                "118",
                "-42.5",
                "+.5",
                "5.",
                "-0",
                "1.2300",
                "1.23450",
                "99999999999999.9999",
                "100000000000000",
                "000000000000000000099999999999999.5",
                "-99999999999999.9999",
                "1.23456",
                "1,5",
                "1 000",
                "1e3",
                "NaN",
                "Infinity",
                "١٢",
                ".",
                "-",
                "+-1",
                "",
                "0.00001",
                "0.000000",
                "9" * 200,
            ],
        ),
        ("integer", ["42", "0", "-1", "4.0", "²", "9" * 18, "9" * 19, "", "0042"]),
        (
            "date",
            [
                "2026-06-30",
                "2026-02-29",
                "2024-02-29",
                "2000-02-29",
                "2100-02-29",
                "2026-04-31",
                "2026-04-30",
                "2026-12-31",
                "2026-13-01",
                "2026-00-10",
                "2026-01-00",
                "0000-01-01",
                "0001-01-01",
                "9999-12-31",
                "2026-6-30",
                "30/06/2026",
                "20260630",
                "",
                "2026-06-30x",
            ],
        ),
    ],
)
def test_postgresql_stages_the_same_values_as_parse(column_type, texts):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("The stage computes values in SQL on PostgreSQL only.")
    column = Column("c", "", type=column_type)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column.sql_value('t.c')} FROM unnest(%s::text[]) WITH ORDINALITY AS t(c, n) "
            "ORDER BY t.n",
            [texts],
        )
        computed = [value for (value,) in cursor.fetchall()]
    assert computed == [column.parse(text) for text in texts]


def test_cells_with_tabs_backslashes_and_newlines_reach_the_stage_unchanged(logins):
    cells = ["a\tb", "x\ty", "back\\slash", "two\nlines", "cr\rhere", "\\N"]
    records = [
        {"account_external_id": cell, "measure": logins.code, "observed_on": str(DAY), "value": 1}
        for cell in cells
    ]
    with pytest.raises(imports.RowErrors) as caught:
        imports.import_records("observations", records, source="api")
    assert [error["message"] for error in caught.value.errors] == [
        f'No account has the external id "{cell}".' for cell in cells
    ]


def test_a_header_is_checked_for_unnamed_repeated_unknown_and_missing_columns():
    importer = imports.get_importer("observations")
    errors = header_errors(importer, ["", "measure", "measure", "colour"])
    assert [(e.row, e.field) for e in errors] == [
        (1, None),
        (1, "measure"),
        (1, "colour"),
        (1, "observed_on"),
        (1, "value"),
        (1, "account"),
    ]


def test_an_importer_must_name_optional_columns_in_its_either_or_groups():
    class Broken(Importer):
        kind = "broken"
        columns = (Column("a", ""), Column("b", "", required=False))
        one_of = (("a", "b"),)

        def merge(self, stage, *, source):
            return imports.Counts(0, 0)

    with pytest.raises(ValueError, match="optional"):
        imports.register(Broken())
    with pytest.raises(LookupError):
        imports.get_importer("broken")


def test_row_errors_carry_every_error_and_their_count():
    failure = imports.RowErrors([RowError(2, "value", "Bad.").as_dict()], total=5)
    assert failure.errors == [{"row": 2, "field": "value", "message": "Bad."}]
    assert failure.total == 5
    assert str(failure) == "Bad. (and 4 more)"


def test_a_huge_cell_is_clipped_in_its_error_message(logins):
    record = {"account_external_id": "x" * 5000, "measure": logins.code}
    record.update(observed_on=str(DAY), value=1)
    with pytest.raises(imports.RowErrors) as caught:
        imports.import_records("observations", [record], source="api")
    [error] = caught.value.errors
    assert (error["row"], error["field"]) == (0, "account_external_id")
    assert len(error["message"]) == imports.MESSAGE_CHARS


# --- the pages, as an admin ----------------------------------------------------------------


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_upload_page_shows_the_columns_and_a_sample(admin_client):
    response = admin_client.get(upload_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert "account_external_id,measure,observed_on,value" in page
    for column in ("account", "account_external_id", "measure", "observed_on", "value"):
        assert f"<code>{column}</code>" in page
    assert "No files imported yet." in page


def test_the_index_lists_the_imports_and_the_navigation_links_to_it(admin_client):
    response = admin_client.get(reverse("imports:index"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Import observations" in page
    assert f'href="{reverse("imports:index")}"' in page


def test_an_unknown_kind_is_404(admin_client):
    assert admin_client.get(upload_url("nothing")).status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("observations.csv", b"", "The file is empty"),
        ("observations.xlsx", b"a,b\n", "Upload a CSV file"),
        ("observations.csv", b"PK\x03\x04rest-of-a-zip", "This is a spreadsheet"),
        ("observations.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "not a text file"),
        ("observations.csv", "caf\u00e9,x\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_the_upload_form_refuses_what_cannot_be_a_csv_file(admin_client, name, content, message):
    response = admin_client.post(upload_url(), {"file": upload_file(content, name)})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_upload_form_refuses_a_file_above_the_size_limit(admin_client, settings):
    settings.IMPORT_MAX_BYTES = 10
    response = admin_client.post(upload_url(), {"file": upload_file(HEADER)})
    assert response.status_code == 400
    assert "the limit is 10" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_upload_form_asks_for_a_file(admin_client):
    response = admin_client.post(upload_url(), {})
    assert response.status_code == 400
    assert "Choose a CSV file to upload." in response.content.decode()


def test_upload_preview_import_and_outcome_through_the_pages(
    admin_client, admin_user, customer, logins, django_capture_on_commit_callbacks
):
    factories.ObservationFactory(account=customer, measure=logins, observed_on=DAY, value=7)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            upload_url(), {"file": upload_file(good_csv(customer, logins))}
        )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job_url(job)
    assert (job.created_by, job.filename, job.status) == (admin_user, "observations.csv", "ready")

    page = admin_client.get(job_url(job)).content.decode()
    assert "No errors in 3 rows. Nothing has been written yet." in page
    assert "Import 3 rows" in page
    assert "The first rows as read" in page
    assert Observation.objects.get().value == Decimal("7")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(start_url(job))
    assert response.status_code == 302

    page = admin_client.get(job_url(job)).content.decode()
    assert "Done: 2 created, 1 updated." in page
    assert 'value="3" max="3"' in page
    assert "hx-trigger" not in page, "a finished job is not polled"
    assert Observation.objects.count() == 3


def test_a_file_with_errors_lists_them_and_offers_no_import(
    admin_client, customer, logins, django_capture_on_commit_callbacks
):
    text = good_csv(customer, logins) + f"NOPE,{logins.code},{DAY},1\nCRM-1,nope,{DAY},x\n"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(upload_url(), {"file": upload_file(text)})
    job = ImportJob.objects.get()

    page = admin_client.get(job_url(job)).content.decode()

    assert job.status == ImportStatus.INVALID
    assert "3 errors: nothing can be imported from this file." in page
    assert "No account has the external id &quot;NOPE&quot;." in page
    assert '<td class="num">6</td><td><code>measure</code></td>' in page
    assert '<td class="num">6</td><td><code>value</code></td>' in page
    assert "Import 5 rows" not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(start_url(job), follow=True)
    assert "Only a checked file without errors can be imported." in response.content.decode()
    assert not Observation.objects.exists()


def test_only_the_first_thousand_errors_are_kept_but_all_are_counted(
    admin_client, logins, django_assert_max_num_queries
):
    text = HEADER + "".join(f"X-{n},{logins.code},{DAY},1\n" for n in range(1500))
    job = ImportJob.objects.create(
        kind="observations", filename="big.csv", content=text.encode(), size=len(text)
    )
    imports.import_job_validate(job.pk)
    job.refresh_from_db()

    assert job.error_count == 1500
    assert len(job.errors) == imports.ERRORS_KEPT
    assert [e["row"] for e in job.errors[:3]] == [2, 3, 4]
    with django_assert_max_num_queries(6):
        page = admin_client.get(job_url(job) + "?page=10").content.decode()
    assert "The first 1,000 of 1,500 errors are listed." in page
    assert "Page 10 of 10" in page
    assert "X-999" in page


def test_a_running_job_polls_its_block_and_an_htmx_request_gets_only_the_block(
    admin_client, customer, logins
):
    job = ImportJob.objects.create(
        kind="observations",
        filename="o.csv",
        content=b"",
        status=ImportStatus.IMPORTING,
        total_rows=400,
        processed_rows=100,
    )
    full = admin_client.get(job_url(job)).content.decode()
    assert "<html" in full and 'hx-trigger="every 1s"' in full

    block = admin_client.get(job_url(job), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in block
    assert block.lstrip().startswith('<section id="import-job"')
    assert 'hx-trigger="every 1s"' in block
    assert '<progress id="import-progress" class="import-progress" value="100" max="400"' in block
    assert "100 of 400 rows read (25%)" in block


def test_starting_twice_is_a_conflict_and_queues_one_import(
    admin_user, customer, logins, django_capture_on_commit_callbacks
):
    job = ImportJob.objects.create(
        kind="observations",
        filename="o.csv",
        content=good_csv(customer, logins).encode(),
    )
    imports.import_job_validate(job.pk)
    job.refresh_from_db()
    with (
        mock.patch.object(tasks.run_import, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        import_job_start(user=admin_user, job=job)
        with pytest.raises(Conflict, match="started already"):
            import_job_start(user=admin_user, job=job)
    delay.assert_called_once_with(job.pk)


def test_a_failing_task_marks_the_job_failed_and_writes_nothing(customer, logins):
    job = ImportJob.objects.create(
        kind="observations", filename="o.csv", content=good_csv(customer, logins).encode()
    )
    tasks.validate_import.delay(job.pk)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING)

    with mock.patch.object(
        imports.get_importer("observations"), "after_merge", side_effect=RuntimeError("boom")
    ):
        tasks.run_import.delay(job.pk)

    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "nothing was written" in job.failure
    assert not Observation.objects.exists()


def test_the_tasks_have_time_limits_for_a_million_rows():
    for task in (tasks.validate_import, tasks.run_import):
        assert 0 < task.soft_time_limit < task.time_limit
        assert task.soft_time_limit >= 300


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer"])
def test_only_cs_admins_reach_the_import_pages(client, role, customer, logins):
    user = {
        "csm": factories.CsmFactory,
        "manager": factories.ManagerFactory,
        "reviewer": factories.ReviewerFactory,
    }[role]()
    job = ImportJob.objects.create(
        kind="observations", filename="o.csv", content=b"", status=ImportStatus.READY
    )
    client.force_login(user)

    assert client.get(reverse("imports:index")).status_code == 403
    assert client.get(upload_url()).status_code == 403
    assert client.post(upload_url(), {"file": upload_file(HEADER)}).status_code == 403
    assert client.get(job_url(job)).status_code == 403
    assert client.post(start_url(job)).status_code == 403
    assert ImportJob.objects.get().status == ImportStatus.READY
    assert f'href="{reverse("imports:index")}"' not in client.get(reverse("home")).content.decode()


def test_signed_out_people_are_sent_to_sign_in(client):
    response = client.get(upload_url())
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_services_refuse_people_who_are_not_admins(customer, logins):
    csm = factories.CsmFactory()
    with pytest.raises(NotAllowed):
        import_job_create(user=csm, kind="observations", filename="o.csv", chunks=[b"x"])
    job = ImportJob.objects.create(
        kind="observations", filename="o.csv", content=b"", status=ImportStatus.READY
    )
    with pytest.raises(NotAllowed):
        import_job_start(user=csm, job=job)


# --- the embedded default: SQLite ------------------------------------------------------------


def import_scenario() -> dict:
    """API batches and CSV files through the framework, with the ORM only (no
    factories), so a fresh SQLite database and the test database get the same
    rows; returns what both must agree on."""
    from accounts.models import Account, Region, Role, Segment, User

    region = Region.objects.create(
        code="SQ", name="Sq", timezone="UTC", review_weekday=1, review_time=dt.time(10)
    )
    csm = User.objects.create(username="sq-csm", role=Role.CSM, region=region)
    segment = Segment.objects.get(code="mid-market")
    accounts = [
        Account.objects.create(
            external_id=f"SQ-{n}",
            name=f"Sq {n}",
            region=region,
            segment=segment,
            arr=Decimal("1000"),
            renewal_date=dt.date(2027, 1, 1),
            csm=csm,
        )
        for n in range(3)
    ]
    first, second, third = accounts
    outcome: dict = {}
    with mock.patch("health.tasks.score_some_accounts.delay"):
        outcome["first"] = asdict(
            imports.import_records(
                "observations",
                [
                    {
                        "account": first.pk,
                        "measure": "logins-30d",
                        "observed_on": "2026-06-30",
                        "value": "12.5",
                    },
                    {
                        "account_external_id": "SQ-1",
                        "measure": "nps",
                        "observed_on": "2026-06-30",
                        "value": -40,
                    },
                    {
                        "account_external_id": "SQ-2",
                        "measure": "sponsor-left",
                        "observed_on": "2026-06-01",
                        "value": "1.0",
                    },
                ],
                source="api",
            )
        )
        outcome["second"] = asdict(
            imports.import_records(
                "observations",
                [
                    {
                        "account_external_id": "SQ-0",
                        "measure": "logins-30d",
                        "observed_on": "2026-06-30",
                        "value": "13.0001",
                    },
                    {
                        "account": second.pk,
                        "measure": "logins-30d",
                        "observed_on": "2026-06-29",
                        "value": 0.5,
                    },
                ],
                source="manual",
            )
        )
        try:
            imports.import_records(
                "observations",
                [
                    {
                        "account": 999999,
                        "measure": "logins-30d",
                        "observed_on": "2026-06-30",
                        "value": "x",
                    },
                    {
                        "account": third.pk,
                        "measure": "sponsor-left",
                        "observed_on": "2026-02-30",
                        "value": 2,
                    },
                    {
                        "account": third.pk,
                        "measure": "nps",
                        "observed_on": "1899-01-01",
                        "value": 1,
                    },
                    {
                        "account": third.pk,
                        "measure": "nps",
                        "observed_on": "2026-06-30",
                        "value": 1,
                    },
                    {
                        "account_external_id": "SQ-2",
                        "measure": "nps",
                        "observed_on": "2026-06-30",
                        "value": 1,
                    },
                    {
                        "account_external_id": "SQ-9",
                        "measure": "nope",
                        "observed_on": "",
                        "value": "",
                    },
                ],
                source="api",
            )
        except imports.RowErrors as failure:
            outcome["errors"] = failure.errors
        rows = [
            f"SQ-{n % 3},csat,{dt.date(2026, 6, 30) - dt.timedelta(days=n // 3)},{n}.25\n"
            for n in range(600)
        ]
        jobs = []
        for text in (
            HEADER + "".join(rows),
            HEADER + "".join(rows[:200]) + "SQ-0,csat,2026-13-01,1\n",
        ):
            job = ImportJob.objects.create(
                kind="observations", filename="f.csv", content=text.encode()
            )
            imports.import_job_validate(job.pk)
            ImportJob.objects.filter(pk=job.pk, status="ready").update(status="importing")
            imports.import_job_run(job.pk)
            job.refresh_from_db()
            jobs.append(
                [job.status, job.total_rows, job.created_count, job.updated_count, job.errors]
            )
        outcome["jobs"] = jobs
    outcome["stored"] = sorted(
        [external_id, code, day.isoformat(), str(value.normalize()), source]
        for external_id, code, day, value, source in Observation.objects.filter(
            account__region=region
        ).values_list("account__external_id", "measure__code", "observed_on", "value", "source")
    )
    return outcome


_SQLITE_SCRIPT = """
import json
import django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
assert connection.vendor == "sqlite", connection.vendor
from tests.core.test_imports import import_scenario
print("SCENARIO " + json.dumps(import_scenario()))
"""
_NOT_INHERITED = ("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "EMAIL_", "SITE_URL", "PORT")


def test_sqlite_imports_exactly_like_postgresql(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from django.conf import settings

    on_postgres = json.loads(json.dumps(import_scenario()))
    env = {key: value for key, value in os.environ.items() if not key.startswith(_NOT_INHERITED)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'imports.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "-c", _SQLITE_SCRIPT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("SCENARIO "))
    on_sqlite = json.loads(line.removeprefix("SCENARIO "))

    assert on_postgres["first"] == {"created": 3, "updated": 0}
    assert on_postgres["second"] == {"created": 1, "updated": 1}
    assert [(e["row"], e["field"]) for e in on_postgres["errors"]] == [
        (0, "account"),
        (0, "value"),
        (1, "observed_on"),
        (1, "value"),
        (2, "observed_on"),
        (4, "observed_on"),
        (5, "account_external_id"),
        (5, "measure"),
        (5, "observed_on"),
        (5, "value"),
    ]
    assert [job[:4] for job in on_postgres["jobs"]] == [
        ["done", 600, 600, 0],
        ["invalid", 201, 0, 0],
    ]
    assert len(on_postgres["stored"]) == 604
    assert on_sqlite == on_postgres


# --- stalled jobs ------------------------------------------------------------------------


def test_the_sweep_is_scheduled_every_five_minutes():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="core.tasks.sweep_imports")
    assert (task.enabled, task.interval.every, task.interval.period) == (True, 5, "minutes")


def test_the_sweep_queues_again_only_jobs_whose_task_was_lost(
    admin_user, customer, logins, django_capture_on_commit_callbacks
):
    with mock.patch("core.tasks.validate_import.delay"):
        lost_check, _fresh, lost_import, finished = (
            import_job_create(
                user=admin_user,
                kind="observations",
                filename=f"{name}.csv",
                chunks=[good_csv(customer, logins).encode()],
            )
            for name in ("lost-check", "fresh", "lost-import", "finished")
        )
    long_ago = timezone.now() - tasks.STALLED_AFTER - dt.timedelta(seconds=1)
    ImportJob.objects.filter(pk=lost_check.pk).update(updated_at=long_ago)
    ImportJob.objects.filter(pk=lost_import.pk).update(
        status=ImportStatus.IMPORTING, updated_at=long_ago
    )
    ImportJob.objects.filter(pk=finished.pk).update(status=ImportStatus.DONE, updated_at=long_ago)

    with (
        mock.patch("core.tasks.validate_import.delay") as check,
        mock.patch("core.tasks.run_import.delay") as run,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert tasks.sweep_imports() == 2

    check.assert_called_once_with(lost_check.pk)  # not the fresh upload, nor the finished
    run.assert_called_once_with(lost_import.pk)
    # Touched: the next sweep leaves them alone for a whole period.
    with mock.patch("core.tasks.validate_import.delay"), mock.patch("core.tasks.run_import.delay"):
        assert tasks.sweep_imports() == 0


def test_a_lost_check_queued_again_prepares_the_preview(
    admin_user, customer, logins, django_capture_on_commit_callbacks
):
    with mock.patch("core.tasks.validate_import.delay"):
        job = import_job_create(
            user=admin_user,
            kind="observations",
            filename="lost.csv",
            chunks=[good_csv(customer, logins).encode()],
        )
    ImportJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - tasks.STALLED_AFTER - dt.timedelta(seconds=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep_imports()  # tasks run in-process in the tests

    job.refresh_from_db()
    assert (job.status, job.total_rows) == (ImportStatus.READY, 3)
