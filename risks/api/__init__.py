"""The REST API of customer accounts, root causes, risk records and
escalations. Routes are in ``risks.api.urls``."""
