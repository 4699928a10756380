# Red Account — the two commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/redaccount
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run test lint format worker beat bench

install: $(STAMP)

# Re-install whenever the pinned dependencies change.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: install
	@bash scripts/serve.sh

test: install
	@bash scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
	DJANGO_SETTINGS_MODULE=config.settings.test \
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# For running the background processes by hand (make run starts both when REDIS_URL is set).
worker: install
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO

# Performance figures on a generated dataset in its own database
# (BENCH_DATABASE_NAME, default redaccount_bench, dropped and recreated) on the
# PostgreSQL server of DATABASE_URL. Sizes: BENCH_ACCOUNTS, BENCH_RISKS,
# BENCH_OPEN, BENCH_REGIONS; BENCH_REPEAT, BENCH_LOAD_SECONDS. Fails when a target is missed.
bench: install
	@bash scripts/ensure-wrk.sh
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	DJANGO_SETTINGS_MODULE=config.settings.bench \
	$(BIN)/python -m bench.run
