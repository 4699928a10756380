#!/usr/bin/env bash
# `make run`: migrate, load the demo data, serve on 127.0.0.1:$PORT.
# With REDIS_URL set, a Celery worker and beat run beside the web server.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
PORT=${PORT:-8000}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings.local}

$BIN/python manage.py migrate --noinput
$BIN/python manage.py seed_demo

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ -n "${REDIS_URL:-}" ]; then
  mkdir -p .run
  $BIN/celery -A config worker --loglevel=INFO >.run/worker.log 2>&1 &
  pids+=($!)
  $BIN/celery -A config beat --loglevel=INFO --pidfile= >.run/beat.log 2>&1 &
  pids+=($!)
  tasks="a Celery worker and beat on $REDIS_URL (logs in .run/)"
else
  tasks="in-process (REDIS_URL is not set)"
fi
if [ -n "${DATABASE_URL:-}" ]; then db="DATABASE_URL"; else db="SQLite (db.sqlite3)"; fi

cat <<BANNER

  Red Account is running at http://127.0.0.1:$PORT/
  API docs: http://127.0.0.1:$PORT/api/docs/ (schema at /api/schema/)
  Database: $db; background tasks: $tasks.
  Demo sign-ins (password "demo"): admin, manager, csm, reviewer
  Stop with Ctrl-C.

BANNER

$BIN/python manage.py runserver "127.0.0.1:$PORT"
