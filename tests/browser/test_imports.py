"""Importing observations from a CSV file in a real browser, with real Celery
workers on Redis: the job page follows the check and then the import by itself
(htmx polling, no reload) until the progress bar is full and the counts show."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.conf import settings
from playwright.sync_api import expect

from config.celery_app import app as celery_app
from core.models import ImportJob, ImportStatus
from health.models import Observation, Source
from tests import factories
from tests.workers import database_url, start_worker, stop_worker

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 3000
# Progress is committed per chunk: small chunks give the page steps to show.
CHUNK_ROWS = "250"


@pytest.fixture
def enqueue_through_redis():
    """Tasks go to Redis (for the workers) instead of running in the request."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = eager


@pytest.fixture
def workers(tmp_path):
    """Start and stop real workers on the test database; all stopped at the end."""
    started = []
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "IMPORT_CHUNK_ROWS": CHUNK_ROWS,
    }

    def start():
        worker = start_worker(env, tmp_path / f"worker-{len(started)}.log", queue="celery")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop_worker(worker)


def csv_file(tmp_path, accounts, measure):
    lines = ["account_external_id,measure,observed_on,value"]
    for n in range(ROWS):
        account = accounts[n % len(accounts)]
        day = dt.date(2026, 6, 30) - dt.timedelta(days=n // len(accounts))
        lines.append(f"{account.external_id},{measure.code},{day},{n % 97}.5")
    path = tmp_path / "observations.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_admin_uploads_a_csv_file_and_watches_the_import_finish(
    page, tmp_path, enqueue_through_redis, workers
):
    factories.AdminFactory(username="ada")
    accounts = [factories.AccountFactory() for _ in range(6)]
    measure = factories.MeasureFactory(code="logins-30d", name="Logins in the last 30 days")
    upload = csv_file(tmp_path, accounts, measure)

    sign_in(page, "ada")
    page.get_by_role("link", name="Imports").click()
    page.get_by_role("link", name="Import observations").click()
    expect(page.get_by_text("account_external_id,measure,observed_on,value").first).to_be_visible()
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and check").click()

    # No worker yet: the job waits, and the page keeps asking.
    expect(page.locator("#import-status")).to_have_text("Waiting to be checked")
    page.evaluate("window.stillTheSamePage = true")

    checker = workers()
    import_button = page.get_by_role("button", name=f"Import {ROWS:,} rows")
    expect(import_button).to_be_visible(timeout=60_000)
    expect(page.locator("#import-outcome")).to_contain_text(f"No errors in {ROWS:,} rows.")
    assert page.evaluate("window.stillTheSamePage") is True, "the preview came without a reload"
    assert not Observation.objects.exists()
    stop_worker(checker)

    import_button.click()
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("max", str(ROWS))
    expect(progress).to_have_attribute("value", "0")
    expect(page.locator("#import-status")).to_have_text("Importing")
    page.evaluate(
        """() => {
            window.stillTheSamePage = true;
            window.progressSeen = [];
            document.body.addEventListener("htmx:afterSettle", () => {
                const bar = document.querySelector("#import-progress");
                if (bar) window.progressSeen.push(Number(bar.value));
            });
        }"""
    )

    workers()
    expect(page.locator("#import-outcome")).to_have_text(
        f"Done: {ROWS:,} created, 0 updated.", timeout=60_000
    )
    expect(progress).to_have_attribute("value", str(ROWS))
    assert page.evaluate("window.stillTheSamePage") is True, "the progress came without a reload"
    seen = page.evaluate("window.progressSeen")
    assert seen == sorted(seen) and seen[-1] == ROWS, seen
    assert page.console_errors == []

    job = ImportJob.objects.get()
    assert (job.status, job.created_count, job.updated_count) == (ImportStatus.DONE, ROWS, 0)
    assert Observation.objects.filter(source=Source.CSV).count() == ROWS
