from __future__ import annotations

from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health scores"

    def ready(self) -> None:
        from core.imports import register

        from .imports import observation_importer

        register(observation_importer)
