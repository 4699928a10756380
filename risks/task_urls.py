"""The task pages, mounted at /tasks/: *My tasks* and marking a task done."""

from __future__ import annotations

from django.urls import path

from .views import tasks

app_name = "tasks"

urlpatterns = [
    path("", tasks.task_list, name="index"),
    path("<int:pk>/done/", tasks.task_done, name="done"),
]
