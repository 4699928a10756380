# Red Account — the two commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := .uv/bin/uv

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/redaccount
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install install-runtime install-dev lock run test lint format worker beat bench

# .venv is synced to a hash-pinned lock file with uv (scripts/install.sh);
# nothing happens when it already matches. `make run` needs only the runtime
# lock, `make test` and `make lint` the dev lock (runtime plus test toolchain).
install: install-dev

install-runtime:
	@PYTHON=$(PYTHON) bash scripts/install.sh runtime

install-dev:
	@PYTHON=$(PYTHON) bash scripts/install.sh dev

# Recompile both lock files from pyproject.toml (after changing a pin there).
# Locked versions of indirect dependencies are kept while they still fit;
# `make lock LOCK_ARGS=--upgrade` takes the newest that fit instead.
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command 'make lock' $(LOCK_ARGS)
lock:
	@PYTHON=$(PYTHON) bash scripts/install.sh uv
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) -o requirements.lock
	$(UV) pip compile pyproject.toml --extra dev -c requirements.lock $(LOCK_FLAGS) \
		-o requirements-dev.lock

# axe-core for the accessibility browser tests, pinned with its integrity hash in
# tests/browser/axe/package-lock.json and installed from the npm registry with
# `npm ci` (again only when the lock changes). Playwright injects axe.min.js into
# the pages under test; the app never serves it. Debian's npm is installed when
# missing and the user is root; without npm the run stops under CI, elsewhere the
# accessibility tests fail and say how to install it.
AXE_DIR := tests/browser/axe
AXE := $(AXE_DIR)/node_modules/axe-core/axe.min.js

$(AXE): $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	@if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
		&& [ "$$(id -u)" = "0" ]; then \
		echo "Installing Debian's npm for the accessibility tests…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
	fi
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(AXE_DIR) --ignore-scripts --no-audit --no-fund --loglevel=error \
			&& touch $@; \
	elif [ -n "$${CI:-}" ]; then \
		echo "npm not found: it installs axe-core for the accessibility tests." >&2; exit 1; \
	else \
		echo "npm not found: the accessibility tests will fail until axe-core is installed." >&2; \
	fi

run: install-runtime
	@bash scripts/serve.sh

test: install-dev $(AXE)
	@bash scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
	DJANGO_SETTINGS_MODULE=config.settings.test \
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# For running the background processes by hand (make run starts both itself).
worker: install-runtime
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install-runtime
	$(BIN)/celery -A config beat --loglevel=INFO

# Performance figures on a generated dataset in its own database
# (BENCH_DATABASE_NAME, default redaccount_bench, dropped and recreated) on the
# PostgreSQL server of DATABASE_URL. Sizes: BENCH_ACCOUNTS, BENCH_RISKS,
# BENCH_OPEN, BENCH_REGIONS, BENCH_IMPORT_ROWS; BENCH_REPEAT, BENCH_LOAD_SECONDS.
# Fails when a target is missed.
bench: install-runtime
	@bash scripts/ensure-wrk.sh
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	DJANGO_SETTINGS_MODULE=config.settings.bench \
	$(BIN)/python -m bench.run
