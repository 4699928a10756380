from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Registers the sending tasks, which the outbox enqueues by name.
        from . import tasks  # noqa: F401
