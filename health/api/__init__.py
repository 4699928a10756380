"""The REST API of measures, the scorecard, observations and health scores.
Routes are in ``health.api.urls``."""
