"""The import pages, one set for every kind of import (core.imports): the
upload form with the file format, the job page with the preview of every row
error and the "Import N rows" button, and the progress of the import.

While a task works on the job, the job's block (``imports/_job.html``) asks
for itself again every second with htmx and is swapped in place; without
JavaScript the page offers a reload link instead."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .exceptions import Conflict
from .import_forms import ImportUploadForm
from .import_jobs import import_job_create, import_job_start
from .imports import ERRORS_KEPT, Importer, get_importer, importers
from .models import ImportJob

ERRORS_PER_PAGE = 100
RECENT_JOBS = 10


def _importer(request: HttpRequest, kind: str) -> Importer:
    try:
        importer = get_importer(kind)
    except LookupError:
        raise Http404("No such import.") from None
    if not importer.allowed(request.user):
        raise PermissionDenied(f"Only CS operations admins may import {importer.title.lower()}.")
    return importer


def _jobs():
    # Never the file itself: it may be hundreds of megabytes.
    return ImportJob.objects.defer("content").select_related("created_by")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Every import this person may run, and the latest jobs."""
    allowed = [importer for importer in importers() if importer.allowed(request.user)]
    if not allowed:
        raise PermissionDenied("Only CS operations admins may import data.")
    recent = _jobs().filter(kind__in=[importer.kind for importer in allowed])[:RECENT_JOBS]
    titles = {importer.kind: importer.title for importer in allowed}
    return render(
        request,
        "imports/index.html",
        {"importers": allowed, "recent": recent, "titles": titles},
    )


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, kind: str) -> HttpResponse:
    importer = _importer(request, kind)
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
    else:
        form = ImportUploadForm()
    if form.is_bound and form.is_valid():
        file = form.cleaned_data["file"]
        job = import_job_create(
            user=request.user, kind=kind, filename=file.name, chunks=file.chunks()
        )
        return redirect("imports:job", kind=kind, pk=job.pk)
    recent = _jobs().filter(kind=kind)[:RECENT_JOBS]
    return render(
        request,
        "imports/upload.html",
        {"importer": importer, "form": form, "recent": recent},
        status=400 if form.is_bound else 200,
    )


@require_GET
def job_page(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """The job: its preview (every row error, or the button to import), its
    progress, its outcome. An htmx request gets the job's block only."""
    importer = _importer(request, kind)
    job = get_object_or_404(_jobs(), pk=pk, kind=kind)
    errors = Paginator(job.errors, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "importer": importer,
        "job": job,
        "page_obj": errors,
        "errors_kept": ERRORS_KEPT,
        "query_without_page": "",
    }
    if request.htmx:
        return render(request, "imports/_job.html", context)
    return render(request, "imports/job.html", context)


@require_POST
def start(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    _importer(request, kind)
    job = get_object_or_404(_jobs(), pk=pk, kind=kind)
    try:
        import_job_start(user=request.user, job=job)
    except Conflict as conflict:
        messages.error(request, conflict.message)
    return redirect("imports:job", kind=kind, pk=job.pk)
