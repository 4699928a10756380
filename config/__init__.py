from __future__ import annotations

# Importing the Celery app here makes `@shared_task` bind to it whichever way
# Django is started (runserver, gunicorn, the test runner, a worker).
from .celery_app import app as celery_app

__all__ = ["celery_app"]
