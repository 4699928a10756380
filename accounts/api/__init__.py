"""The REST API of people, regions and segments, and the token endpoint.
Routes are in ``accounts.api.urls``."""
