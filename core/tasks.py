"""The import framework's tasks (core.imports): checking an uploaded file for
the preview, and importing it. Both are idempotent (the job's status is
claimed with a conditional UPDATE, the merge locks the job's row) and record a
failure on the job instead of raising, so the page can say what happened."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError, transaction
from django.utils import timezone

from . import imports
from .models import ImportJob, ImportStatus

logger = logging.getLogger(__name__)

# A million rows are read, staged and checked in about a minute on PostgreSQL
# and merged in a few more; these leave ample room. (Redis hands a task on
# only after its visibility timeout, which must exceed the longest retry
# countdown plus the longest time limit: config/settings/base.py.)
SOFT_TIME_LIMIT = 480
TIME_LIMIT = 540
LIMITS = {
    "bind": True,
    "soft_time_limit": SOFT_TIME_LIMIT,
    "time_limit": TIME_LIMIT,
    "max_retries": 3,
}


def _run(task, step: Callable[[int], None], job_id: int) -> None:
    try:
        step(job_id)
    except OperationalError as error:
        # The database went away: run again later; the job's status allows it.
        if task.request.retries < task.max_retries:
            raise task.retry(exc=error, countdown=30 * 2**task.request.retries) from error
        imports.import_job_fail(job_id, "The database could not be reached; nothing was written.")
        logger.exception("Import job %s: the database could not be reached", job_id)
    except SoftTimeLimitExceeded:
        imports.import_job_fail(
            job_id,
            f"It took longer than {SOFT_TIME_LIMIT // 60} minutes and was stopped; "
            "nothing was written. Split the file and upload the parts.",
        )
    except Exception:
        logger.exception("Import job %s stopped", job_id)
        imports.import_job_fail(
            job_id, "An unexpected error stopped it; nothing was written. The worker's log has it."
        )


@shared_task(name="core.tasks.validate_import", **LIMITS)
def validate_import(self, job_id: int) -> None:
    """Check an uploaded file: every row error, for the preview."""
    _run(self, imports.import_job_validate, job_id)


@shared_task(name="core.tasks.run_import", **LIMITS)
def run_import(self, job_id: int) -> None:
    """Import a checked file in one transaction."""
    _run(self, imports.import_job_run, job_id)


# A job whose task has not moved it for this long lost its task: the broker
# was down when it was queued, or its worker died. Longer than any task may
# run (the hard time limit), so a live task is never doubled.
STALLED_AFTER = dt.timedelta(seconds=TIME_LIMIT + 360)


@shared_task(name="core.tasks.sweep_imports", soft_time_limit=60, time_limit=90)
def sweep_imports() -> int:
    """Every five minutes: queue again the task of every stalled job, the
    check of an uploaded or checking file, the import of an importing one.
    Both tasks are idempotent (they claim the job's status; the merge locks
    the job), and a lost run wrote nothing (the merge is one transaction).
    Returns how many jobs were queued again."""
    now = timezone.now()
    requeued = 0
    with transaction.atomic():
        stalled = list(
            ImportJob.objects.select_for_update(skip_locked=True)
            .filter(
                updated_at__lt=now - STALLED_AFTER,
                status__in=[ImportStatus.UPLOADED, ImportStatus.VALIDATING, ImportStatus.IMPORTING],
            )
            .values_list("pk", "status")
        )
        for pk, status in stalled:
            task = run_import if status == ImportStatus.IMPORTING else validate_import
            # Touched, so the next sweep waits a whole period again.
            ImportJob.objects.filter(pk=pk).update(updated_at=now)
            transaction.on_commit(partial(task.delay, pk), robust=True)
            requeued += 1
    return requeued
