"""Uploading a file to import and starting its import: the services the pages
call (core.views). The work itself is done by core.tasks (core.imports)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import tasks
from .exceptions import Conflict, NotAllowed
from .imports import get_importer
from .models import ImportJob, ImportStatus


def _enqueue(task: Any, job_id: int) -> None:
    # Robust: if the broker is down the upload is kept (the job page says it
    # is waiting) rather than turned into an error page.
    transaction.on_commit(partial(task.delay, job_id), robust=True)


def _check_allowed(user: Any, kind: str) -> None:
    importer = get_importer(kind)
    if not importer.allowed(user):
        raise NotAllowed(f"Only CS operations admins may import {importer.title.lower()}.")


def import_job_create(*, user: Any, kind: str, filename: str, chunks: Iterable[bytes]) -> ImportJob:
    """Keep an uploaded file (its ``chunks``) as a job of ``kind`` and queue its check."""
    _check_allowed(user, kind)
    content = b"".join(chunks)
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            created_by=user,
            filename=filename[:255],
            size=len(content),
            content=content,
        )
        _enqueue(tasks.validate_import, job.pk)
    return job


def import_job_start(*, user: Any, job: ImportJob) -> ImportJob:
    """Start the import of a checked file without errors. Once only: a second
    start (a double click, a second admin) is a Conflict."""
    _check_allowed(user, job.kind)
    now = timezone.now()
    with transaction.atomic():
        started = ImportJob.objects.filter(
            pk=job.pk, status=ImportStatus.READY, error_count=0
        ).update(status=ImportStatus.IMPORTING, processed_rows=0, started_at=now, updated_at=now)
        if not started:
            status = ImportJob.objects.values_list("status", flat=True).get(pk=job.pk)
            if status in (ImportStatus.IMPORTING, ImportStatus.DONE):
                raise Conflict("This import has been started already.")
            raise Conflict("Only a checked file without errors can be imported.")
        _enqueue(tasks.run_import, job.pk)
    job.status = ImportStatus.IMPORTING
    job.processed_rows = 0
    job.started_at = now
    return job
