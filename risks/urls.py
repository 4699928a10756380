from __future__ import annotations

from django.urls import path

from .views import approvals, detail, filing, listing

app_name = "risks"

urlpatterns = [
    path("", listing.risk_list, name="list"),
    path("export.csv", listing.risk_export, name="export"),
    path("new/", filing.risk_file, name="file"),
    path("approvals/", approvals.approval_queue, name="approvals"),
    path("<int:pk>/", detail.risk_detail, name="detail"),
    path("<int:pk>/edit/", detail.risk_edit, name="edit"),
    path("<int:pk>/note/", detail.risk_note, name="note"),
    path("<int:pk>/tasks/", detail.risk_task_add, name="task_add"),
    path("<int:pk>/escalate/", detail.risk_escalate, name="escalate"),
    path("<int:pk>/deescalate/", detail.risk_deescalate, name="deescalate"),
    path("<int:pk>/close/", detail.risk_close, name="close"),
    path("escalations/<int:pk>/approve/", approvals.escalation_approve, name="approve"),
    path("escalations/<int:pk>/reject/", approvals.escalation_reject, name="reject"),
]
