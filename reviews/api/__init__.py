"""The REST API of the weekly review: agendas, agenda items' notes and
actions, action items. Routes are in ``reviews.api.urls``."""
