from __future__ import annotations

from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Weekly reviews"

    def ready(self) -> None:
        # Review notes and action items on a risk's timeline name their agenda
        # by id; the timeline (a layer below) asks us for its name and link.
        from risks.timeline import register_resolver

        from .selectors import agenda_references

        register_resolver(agenda_references)

        # A record reaching tier 3, leaving it or closing refreshes the agenda.
        from risks.signals import review_relevant_change

        from .receivers import refresh_region_agendas

        review_relevant_change.connect(refresh_region_agendas, dispatch_uid="refresh-agendas")
