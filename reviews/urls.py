from __future__ import annotations

from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("", views.index, name="index"),
    path("actions/", views.action_list, name="actions"),
    path("generate/", views.generate, name="generate"),
    path("items/<int:pk>/notes/", views.item_note, name="note"),
    path("items/<int:pk>/actions/", views.item_action, name="action"),
    path("actions/<int:pk>/done/", views.action_done, name="action_done"),
    path("<str:region_code>/<str:week>/", views.agenda_page, name="agenda"),
    path("<str:region_code>/<str:week>/invite.ics", views.calendar, name="calendar"),
]
