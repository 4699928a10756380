"""The REST API of risk rules and their matches. Routes are in ``rules.api.urls``."""
