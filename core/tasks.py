"""The import framework's tasks (core.imports): checking an uploaded file for
the preview, and importing it. Both are idempotent (the job's status is
claimed with a conditional UPDATE, the merge locks the job's row) and record a
failure on the job instead of raising, so the page can say what happened."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from . import imports

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
