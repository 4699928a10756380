"""`make bench`: generate the dataset, then measure.

    DJANGO_SETTINGS_MODULE=config.settings.bench python -m bench.run

The bench database (BENCH_DATABASE_NAME, default ``redaccount_bench``, on the
server of DATABASE_URL) is dropped and recreated first, so every run starts
from the same state. Each figure is printed as ``name: value``; the exit
status is 1 when a target is missed (the missed ones are listed).

In-process measurements go through django.test.Client — the whole middleware
stack, URL routing and rendering — signed in with a session (force_login):
the API view and the baseline view (bench/views.py, routed by bench/urls.py)
pay the same request and sign-in cost. Each figure is the median of
BENCH_REPEAT timed runs after warm-up runs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")

import django
import psycopg
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "list_risks_vs_baseline": 2.0,
    "report_vs_sql": 1.3,
    "score_all_vs_sql": 1.5,
    "observations_import_vs_copy": 2.0,
    "calibration_vs_sql": 1.5,
    "backtest_s": 60.0,
}

# The Outcomes report by primary cause over every record, as one would write
# it by hand: one pass, the totals row from ROLLUP.
OUTCOMES_SQL = """
SELECT cause.code, cause.name,
       COUNT(*) FILTER (WHERE risk.status = 'saved') AS saved,
       COUNT(*) FILTER (WHERE risk.status = 'churned') AS churned,
       COUNT(*) FILTER (WHERE risk.status = 'withdrawn') AS withdrawn,
       SUM(risk.arr_retained) FILTER (WHERE risk.status = 'saved') AS arr_saved,
       SUM(CASE WHEN risk.status = 'churned' THEN risk.arr_at_risk
                WHEN risk.status = 'saved' THEN risk.arr_at_risk - risk.arr_retained
                ELSE 0 END) AS arr_lost,
       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY risk.closed_at - risk.opened_at)
FROM risks_riskrecord AS risk
JOIN risks_rootcause AS cause ON cause.id = risk.primary_cause_id
WHERE risk.status IN ('saved', 'churned', 'withdrawn')
GROUP BY ROLLUP ((cause.code, cause.name))
ORDER BY cause.code NULLS LAST
"""


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw.replace("_", "")) if raw else default


def emit(name: str, value: object) -> None:
    print(f"{name}: {value}", flush=True)


def median_ms(action: Callable[[], object], *, repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def time_now_date():
    from django.utils import timezone

    return timezone.now().date()


def recreate_database() -> None:
    db = settings.DATABASES["default"]
    params = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    name = db["NAME"]
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as maintenance:
        maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        maintenance.execute(f'CREATE DATABASE "{name}"')


# --- measurements ----------------------------------------------------------------------


def measure_list(client, repeat: int, region: str, cause: str) -> dict[str, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Region
    from risks.models import RootCause

    api = f"/api/v1/risks/?page_size=50&region={region}&primary_cause={cause}"
    baseline = (
        f"/bench/baseline/risks/?page_size=50&region_id={Region.objects.get(code=region).pk}"
        f"&primary_cause_id={RootCause.objects.get(code=cause).pk}"
    )

    def get(url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")

    api_body, baseline_body = client.get(api).json(), client.get(baseline).json()
    if api_body["count"] != baseline_body["count"] or [r["id"] for r in api_body["results"]] != [
        r["id"] for r in baseline_body["results"]
    ]:
        raise SystemExit("The baseline does not return the rows of the API.")
    figures: dict[str, object] = {"list_risks_count": api_body["count"]}
    figures["list_risks_p50_ms"] = round(median_ms(lambda: get(api), repeat=repeat), 2)
    figures["list_risks_baseline_p50_ms"] = round(
        median_ms(lambda: get(baseline), repeat=repeat), 2
    )
    figures["list_risks_vs_baseline"] = round(
        figures["list_risks_p50_ms"] / figures["list_risks_baseline_p50_ms"], 2
    )
    for page in (10, 100):
        with CaptureQueriesContext(connection) as queries:
            get(f"{api}&page={page}")
        figures[f"list_risks_queries_page_{page}"] = len(queries)
    return figures


def measure_report(repeat: int) -> dict[str, object]:
    from django.db import connection

    from reports.selectors import outcomes_report

    def by_sql() -> list:
        with connection.cursor() as cursor:
            cursor.execute(OUTCOMES_SQL)
            return cursor.fetchall()

    report, rows = outcomes_report(group_by="primary_cause"), by_sql()
    if [row.key for row in report.rows] != [row[0] for row in rows[:-1]] or (
        report.totals.saved != rows[-1][2]
    ):
        raise SystemExit("The hand-written SQL does not give the report's rows.")
    orm_ms = median_ms(lambda: outcomes_report(group_by="primary_cause"), repeat=repeat, warmup=1)
    sql_ms = median_ms(by_sql, repeat=repeat, warmup=1)
    return {
        "report_outcomes_ms": round(orm_ms, 1),
        "report_outcomes_sql_ms": round(sql_ms, 1),
        "report_vs_sql": round(orm_ms / sql_ms, 2),
    }


def measure_agendas(repeat: int) -> dict[str, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Region
    from notifications.models import OutboundMessage
    from reviews.models import Agenda, AgendaItem
    from reviews.services import agenda_generate

    regions = list(Region.objects.order_by("code"))
    per_region: set[int] = set()
    items = 0

    def generate_all() -> None:
        nonlocal items
        # Not timed: start from no agenda, as the weekly task does.
        AgendaItem.objects.all().delete()
        Agenda.objects.all().delete()
        OutboundMessage.objects.all().delete()
        start = time.perf_counter()
        for region in regions:
            with CaptureQueriesContext(connection) as queries:
                agenda_generate(region=region)
            per_region.add(len(queries))
        timings.append(time.perf_counter() - start)
        items = AgendaItem.objects.count()

    timings: list[float] = []
    generate_all()  # warm-up
    timings.clear()
    for _ in range(repeat):
        generate_all()
    queries = (
        str(min(per_region))
        if len(per_region) == 1
        else f"{min(per_region)}-{max(per_region)} (varies)"
    )
    return {
        "agenda_all_regions_ms": round(statistics.median(timings) * 1000, 1),
        "agenda_items_all_regions": items,
        "agenda_queries_per_region": queries,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_load(token: str, path: str, seconds: int) -> dict[str, object]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (scripts/ensure-wrk.sh installs it).")
    port = free_port()
    url = f"http://127.0.0.1:{port}{path}"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [
            str(gunicorn),
            "config.wsgi:application",
            "--workers=2",
            f"--bind=127.0.0.1:{port}",
            f"--pythonpath={ROOT}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench"},
    )
    try:
        request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start serving the list endpoint.") from None
                time.sleep(0.3)
        # Warm every worker's connection and caches before the timed run.
        subprocess.run(
            [wrk, "-t2", "-c4", "-d2s", "-H", f"Authorization: Token {token}", url],
            check=True,
            capture_output=True,
        )
        result = subprocess.run(
            [
                wrk,
                "-t2",
                "-c4",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(ROOT / "bench" / "wrk_report.lua"),
                "-H",
                f"Authorization: Token {token}",
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    match = re.search(
        r"BENCH requests=(\d+) duration_us=(\d+) p95_us=(\d+) errors=(\d+)", result.stdout
    )
    if match is None:
        raise SystemExit(f"Could not read wrk's output:\n{result.stdout}\n{result.stderr}")
    requests, duration_us, p95_us, errors = map(int, match.groups())
    return {
        "list_risks_rps": round(requests / (duration_us / 1_000_000), 1),
        "list_risks_p95_ms": round(p95_us / 1000, 1),
        "list_risks_errors": errors,
    }


def main() -> int:
    from bench.dataset import Sizes

    sizes = Sizes.from_env()
    repeat = env_int("BENCH_REPEAT", 30)
    report_repeat = env_int("BENCH_REPORT_REPEAT", 5)
    load_seconds = env_int("BENCH_LOAD_SECONDS", 15)

    recreate_database()
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from bench.dataset import generate

    start = time.perf_counter()
    counts = generate(sizes)
    emit("dataset_generation_s", round(time.perf_counter() - start, 1))
    for name, count in counts.items():
        emit(f"dataset_{name}", count)
    emit("dataset_open_risks", sizes.open)
    emit("dataset_regions", sizes.regions)

    from bench import health, learning, outbox, rules

    health_day = time_now_date()
    start = time.perf_counter()
    emit("dataset_observations", health.generate_observations(health_day))
    emit("dataset_observations_s", round(time.perf_counter() - start, 1))

    from django.test import Client
    from knox.models import AuthToken

    from accounts.models import Role, User
    from risks.models import RootCause

    user = User.objects.create_user(
        username="bench", password="bench", role=Role.ADMIN, is_superuser=True
    )
    _, token = AuthToken.objects.create(user=user)
    client = Client()
    client.force_login(user)
    region = "R01"
    cause = RootCause.objects.order_by("pk").values_list("code", flat=True).first()

    figures: dict[str, object] = {}
    for step in (
        lambda: measure_list(client, repeat, region, cause),
        lambda: measure_report(report_repeat),
        lambda: measure_agendas(max(1, min(repeat, 5))),
        lambda: measure_load(
            token,
            f"/api/v1/risks/?page_size=50&region={region}&primary_cause={cause}",
            load_seconds,
        ),
        lambda: outbox.measure_outbox(user, env_int("BENCH_OUTBOX_MESSAGES", 5_000)),
        # Last: scoring and imports rewrite hundreds of thousands of rows, and
        # the dead rows they leave until autovacuum runs would slow the
        # figures above.
        lambda: health.measure_scoring(health_day, max(1, min(report_repeat, 3))),
        # After scoring: the rules read the scores it wrote.
        lambda: rules.measure_rules(health_day, user, max(1, min(report_repeat, 3))),
        lambda: health.measure_import(health_day, user, env_int("BENCH_IMPORT_ROWS", 1_000_000)),
        lambda: health.measure_api(client, health_day, 3),
        # Last: the history and the renewals churn a share of the accounts.
        lambda: learning.generate_history(health_day),
        lambda: learning.measure_calibration(health_day, max(1, min(report_repeat, 3))),
        learning.measure_backtest,
    ):
        for name, value in step().items():
            figures[name] = value
            emit(name, value)

    missed = []
    for name, limit in TARGETS.items():
        if figures[name] > limit:
            missed.append(f"{name} {figures[name]} > {limit}")
    if figures["list_risks_queries_page_10"] != figures["list_risks_queries_page_100"]:
        missed.append("list_risks_queries_page_10 != list_risks_queries_page_100")
    if not str(figures["agenda_queries_per_region"]).isdigit():
        missed.append("agenda_queries_per_region is not constant")
    if figures["score_queries_10k"] != figures["score_queries_100k"]:
        missed.append("score_queries_10k != score_queries_100k")
    if figures["rules_eval_queries_10k"] != figures["rules_eval_queries_100k"]:
        missed.append("rules_eval_queries_10k != rules_eval_queries_100k")
    for figure in ("calibration_queries", "backtest_queries"):
        if figures[f"{figure}_10k"] != figures[f"{figure}_100k"]:
            missed.append(f"{figure}_10k != {figure}_100k")
    if figures["outbox_sent_once"] is not True:
        missed.append("outbox_sent_once is not True")
    if figures["list_risks_errors"] != 0:
        missed.append("list_risks_errors is not 0")
    emit("targets_missed", "; ".join(missed) if missed else "none")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
