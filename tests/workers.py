"""Real Celery workers for the tests that need one: a `celery -A config worker`
subprocess on the test database, started and stopped the same way everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database),
    so a worker sees the rows the test commits."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{credentials}@{host}:{port}/{quote(db['NAME'], safe='')}"


def start_worker(
    env: dict[str, str],
    log_path: Path,
    *,
    queue: str | None = None,
    pool: str = "solo",
    concurrency: int = 1,
) -> subprocess.Popen:
    """A worker with ``env``, its output in ``log_path``; only ``queue`` if given;
    ``concurrency`` processes with the prefork pool."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}"]
    if pool == "prefork":
        command.append(f"--concurrency={concurrency}")
    if queue:
        command += ["-Q", queue]
    command += ["--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log_path, "w") as log:
        return subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def stop_worker(worker: subprocess.Popen) -> None:
    """A warm shutdown, or a kill when it takes longer than 15 s."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
