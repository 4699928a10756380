"""Celery tasks of the weekly review. Celery's autodiscovery imports
``reviews.tasks``; the tasks live in one module per concern."""

from __future__ import annotations

from .agenda import generate_due_agendas, generate_region_agenda, refresh_upcoming_agendas

__all__ = ["generate_due_agendas", "generate_region_agenda", "refresh_upcoming_agendas"]
