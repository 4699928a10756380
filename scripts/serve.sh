#!/usr/bin/env bash
# `make run`: migrate, load the demo data, then serve on 127.0.0.1:$PORT with a
# Celery worker and beat beside the web server, as in production. Their broker
# is Redis when REDIS_URL is set, otherwise an embedded one in .run/broker/
# (kombu's filesystem transport, config/settings/local.py).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
# Exported: the local settings derive SITE_URL (the links in emails) from it,
# in the worker too.
export PORT=${PORT:-8000}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.local}

$BIN/python manage.py migrate --noinput
$BIN/python manage.py seed_demo

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # A warm shutdown finishes the running tasks; do not wait forever for it.
  for _ in $(seq 1 15); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

mkdir -p .run
$BIN/celery -A config worker --loglevel=INFO --concurrency=2 \
  --without-gossip --without-mingle >.run/worker.log 2>&1 &
pids+=($!)
$BIN/celery -A config beat --loglevel=INFO --pidfile= >.run/beat.log 2>&1 &
pids+=($!)
if [ -n "${REDIS_URL:-}" ]; then broker="Redis ($REDIS_URL)"; else broker="the embedded broker in .run/broker/"; fi
if [ -n "${DATABASE_URL:-}" ]; then db="DATABASE_URL"; else db="SQLite (db.sqlite3)"; fi

cat <<BANNER

  Red Account is running at http://127.0.0.1:$PORT/
  API docs: http://127.0.0.1:$PORT/api/docs/ (schema at /api/schema/)
  Database: $db.
  Background tasks: a Celery worker and beat on $broker; their logs are
  .run/worker.log and .run/beat.log (with the default console email backend,
  the worker's log shows every email it sends).
  Demo sign-ins (password "demo"): admin, manager, csm, reviewer
  Stop with Ctrl-C.

BANNER

$BIN/python manage.py runserver "127.0.0.1:$PORT"
