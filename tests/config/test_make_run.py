"""What `make run` relies on (docs/operations.md#development-and-tests): the
install from hash-pinned lock files, the local settings' embedded broker with a
real worker, SITE_URL from PORT, a quiet seed, and the Redis visibility timeout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from io import StringIO
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.core.management import call_command

from notifications.models import OutboundMessage
from reviews.models import Agenda
from tests.reviews.test_agenda_tasks import region_meeting_in, tier3_risk_in
from tests.workers import database_url, start_worker, stop_worker

ROOT = Path(__file__).resolve().parents[2]
_NOT_INHERITED = ("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "EMAIL_", "SITE_URL", "PORT")


# --- the install: lock files ----------------------------------------------------------


def _locked(path: Path) -> dict[str, str]:
    """name → version of every requirement in a lock file, checking each has hashes."""
    text = path.read_text()
    pins = {}
    for block in re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[-1]):
        match = re.match(r"([a-z0-9][a-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", block)
        if match is None:
            continue
        assert "--hash=sha256:" in block, f"{path.name}: {match.group(1)} has no hash"
        pins[match.group(1)] = match.group(3)
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_make_run_installs_only_the_runtime_lock_and_make_test_the_dev_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _locked(ROOT / "requirements.lock")
    dev = _locked(ROOT / "requirements-dev.lock")

    def pins(requirements: list[str]) -> dict[str, str]:
        found = (re.match(r"([^=\[]+)(\[[^\]]*\])?==(.+)", r) for r in requirements)
        return {_normal(m.group(1)): m.group(3) for m in found}

    # pyproject.toml is the source: every pin is in its lock at the same version.
    for name, version in pins(project["dependencies"]).items():
        assert runtime.get(name) == version == dev.get(name), name
    for name, version in pins(project["optional-dependencies"]["dev"]).items():
        assert dev.get(name) == version, name
        assert name not in runtime, f"{name} (test toolchain) in the runtime lock"
    # The dev lock is the runtime lock plus the toolchain, at the same versions.
    assert {name: dev.get(name) for name in runtime} == runtime

    dry_run = subprocess.run(
        ["make", "-n", "run", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert dry_run.returncode == 0, dry_run.stderr
    run_part, test_part = dry_run.stdout.split("scripts/serve.sh", 1)
    assert "scripts/install.sh runtime" in run_part
    assert "install.sh dev" not in run_part and "pip install" not in run_part
    assert "scripts/install.sh dev" in test_part
    install = (ROOT / "scripts" / "install.sh").read_text()
    assert "pip sync" in install and "--require-hashes" in install


# --- the local settings ----------------------------------------------------------------


def _local_settings(**env: str) -> dict:
    """The local settings as a fresh process sees them with only ``env`` set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    clean.update(env)
    code = (
        "import json; from config.settings import local as s; print(json.dumps({"
        "'broker': s.CELERY_BROKER_URL, 'eager': s.CELERY_TASK_ALWAYS_EAGER,"
        "'options': s.CELERY_BROKER_TRANSPORT_OPTIONS, 'beat': s.CELERY_BEAT_SCHEDULER,"
        "'site_url': s.SITE_URL, 'cache': s.CACHES['default']['BACKEND']}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_without_redis_the_local_settings_use_the_embedded_broker_not_in_process_tasks():
    local = _local_settings()
    assert local["broker"] == "filesystem://"
    assert local["eager"] is False, "tasks must go to a worker, as in production"
    folder = str(ROOT / ".run" / "broker")
    assert local["options"]["data_folder_in"] == local["options"]["data_folder_out"]
    assert local["options"]["data_folder_in"].startswith(folder)
    assert local["options"]["control_folder"].startswith(folder)
    assert local["beat"] == "django_celery_beat.schedulers:DatabaseScheduler"


def test_with_redis_the_local_settings_use_it_as_broker_and_cache():
    local = _local_settings(REDIS_URL="redis://127.0.0.1:6379/9")
    assert local["broker"] == "redis://127.0.0.1:6379/9"
    assert local["eager"] is False
    assert local["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert "data_folder_in" not in local["options"]


def test_site_url_follows_port_unless_it_is_set():
    assert _local_settings()["site_url"] == "http://127.0.0.1:8000"
    assert _local_settings(PORT="8777")["site_url"] == "http://127.0.0.1:8777"
    explicit = _local_settings(PORT="8777", SITE_URL="https://risk.example.com/")
    assert explicit["site_url"] == "https://risk.example.com"


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("reference_data")
def test_a_real_worker_runs_tasks_from_the_embedded_broker(tmp_path):
    """`make run` without Redis: a task sent through the filesystem transport is
    run by a real `celery -A config worker`, fan-out included."""
    region = region_meeting_in(hours=2)
    risk = tier3_risk_in(region)
    broker = tmp_path / "broker"
    options = {
        "data_folder_in": str(broker / "queue"),
        "data_folder_out": str(broker / "queue"),
        "control_folder": str(broker / "control"),
    }
    for folder in {*options.values()}:
        Path(folder).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.config.embedded_worker_settings",
        DATABASE_URL=database_url(),
        EMBEDDED_BROKER_FOLDER=str(broker),
        EMAIL_URL="dummymail://",
    )
    log_path = tmp_path / "worker.log"
    worker = start_worker(env, log_path)
    producer = Celery("embedded-producer", broker="filesystem://", set_as_current=False)
    producer.conf.broker_transport_options = options
    try:
        producer.send_task("reviews.tasks.generate_due_agendas")
        deadline = time.monotonic() + 40
        agenda = None
        while time.monotonic() < deadline and worker.poll() is None:
            agenda = Agenda.objects.filter(region=region).first()
            if agenda is not None and agenda.items.exists():
                break
            time.sleep(0.5)
        assert agenda is not None, f"no agenda after 40 s:\n{log_path.read_text()}"
        assert list(agenda.items.values_list("risk", flat=True)) == [risk.pk]
    finally:
        producer.close()
        stop_worker(worker)
    output = log_path.read_text()
    assert "reviews.tasks.generate_region_agenda" in output, "the fan-out went through the broker"


# --- the seed --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("reference_data")
def test_the_seed_writes_its_emails_to_the_outbox_without_printing_them(settings, capsys):
    # Tasks run in-process here (test settings), as they would wherever no
    # worker is configured: the send happens inside the command.
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    out = StringIO()
    call_command("seed_demo", stdout=out)

    printed = capsys.readouterr().out + out.getvalue()
    assert "MIME-Version" not in printed
    assert "Content-Type: " not in printed
    emails = OutboundMessage.objects.count()
    assert emails > 0, "the seed's emails are still in the outbox"
    assert f"Emails written to the outbox: {emails}" in out.getvalue()
    assert out.getvalue().rstrip().endswith("with the password “demo”.")


# --- Redis: a task whose worker died -----------------------------------------------------


def test_redis_hands_on_a_dead_workers_task_after_its_longest_run_not_after_an_hour():
    from config.celery_app import app

    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    ours = [task for name, task in app.tasks.items() if not name.startswith("celery.")]
    limits = [settings.CELERY_TASK_TIME_LIMIT] + [
        task.time_limit for task in ours if task.time_limit
    ]
    # A retry waits out its countdown in the worker, unacknowledged, then runs.
    countdowns = [getattr(task, "retry_backoff_max", 0) or 0 for task in ours]
    assert max(countdowns) + max(limits) < timeout < 3600
