# Guanxi (关系) — the two commands of the README are `make run` and `make test`.
#
#   make run     fresh clone -> virtualenv, install, migrate, demo data, worker + web server on :8000
#   make test    dev install, whole suite on SQLite, then on PostgreSQL (+ Redis) when they answer
#   make lint    ruff check, ruff format --check, mypy guanxi
#   make e2e     browser journeys in Chromium (tests/e2e)
#   make bench   benchmarks under bench/ (never part of the test suite); BENCH_ARGS="--contacts 50000" for less
#   make messages  update and compile the zh_Hans and en translation catalogues
#   make clean   remove caches, build output and test databases (keeps .venv and var/ data)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.guanxi-installed
DEV_STAMP := $(VENV)/.guanxi-dev-installed
PIP_QUIET ?= -qq
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_WORKERS ?= 2

# Second test run: PostgreSQL (pytest-django creates and drops test_<name> itself; the database in
# the URL need not exist) and Redis database 15. A DATABASE_URL of your own that names PostgreSQL wins.
TEST_PG_URL ?= $(if $(filter postgres%,$(DATABASE_URL)),$(DATABASE_URL),postgres://postgres@127.0.0.1:5432/guanxi)
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
# Options of every bench/*.py, e.g. BENCH_ARGS="--contacts 50000 --accounts 10000 --engine sqlite".
BENCH_ARGS ?=
# The suite runs with its own settings: never a caller's database, cache or production mode.
TEST_ENV := env -u DATABASE_URL -u REDIS_URL -u GUANXI_PRODUCTION -u GUANXI_DEBUG -u GUANXI_REQUIRE_2FA \
	-u DJANGO_SETTINGS_MODULE GUANXI_TESTING=1
XDIST = $(if $(filter-out 0 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS))
# Exit 0 when a TCP port answers: `$(call reachable,URL,default port)`.
reachable = $(BIN)/python -c 'import socket, sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); \
	socket.create_connection((p.hostname or "127.0.0.1", p.port or $(2)), timeout=2).close()' '$(1)' 2>/dev/null

DEMO_LOGIN := admin@demo.guanxi / guanxi-demo-2026

.PHONY: help install install-dev run test test-sqlite test-postgres lint e2e bench messages clean

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

# --- installation ----------------------------------------------------------------------------

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Guanxi needs Python 3.11 or newer ($(PYTHON) is $$($(PYTHON) --version 2>&1))."; exit 1; }
	@echo "Creating the virtualenv $(VENV)…"
	@$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed (the stamp is older than it).
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing Guanxi and its dependencies into $(VENV)…"
	@$(BIN)/python -m pip install $(PIP_QUIET) --disable-pip-version-check -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing Guanxi with the development tools into $(VENV)…"
	@$(BIN)/python -m pip install $(PIP_QUIET) --disable-pip-version-check -e '.[dev]'
	@touch $@ $(STAMP)

install: $(STAMP)
install-dev: $(DEV_STAMP)

# --- run -------------------------------------------------------------------------------------

run: $(STAMP)
	@echo "Preparing the database (GUANXI_DATA_DIR, default ./var)…"
	@$(BIN)/guanxi migrate --no-input --verbosity 0
	@$(BIN)/guanxi demo
	@# The worker runs in the background and stops with the server (Ctrl+C, or the server failing).
	@$(BIN)/guanxi worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	echo ""; \
	echo "  Guanxi is starting on http://$(HOST):$(PORT)/"; \
	echo "  Demo login: $(DEMO_LOGIN)"; \
	echo "  A task worker runs beside the web server; Ctrl+C stops both."; \
	echo ""; \
	$(BIN)/guanxi serve --bind $(HOST):$(PORT) --workers $(WEB_WORKERS)

# --- tests -----------------------------------------------------------------------------------

# Both runs happen even when the first fails: an engine-specific failure shows up in one go.
test: $(DEV_STAMP)
	@status=0; \
	$(MAKE) --no-print-directory test-sqlite || status=1; \
	if $(call reachable,$(TEST_PG_URL),5432); then \
		$(MAKE) --no-print-directory test-postgres || status=1; \
	else \
		echo "== PostgreSQL does not answer at $(TEST_PG_URL): skipped the PostgreSQL run =="; \
	fi; \
	exit $$status

test-sqlite: $(DEV_STAMP)
	@echo "== tests on SQLite =="
	@start=$$SECONDS; \
	$(TEST_ENV) $(BIN)/pytest -m "not e2e" $(XDIST) $(PYTEST_ARGS); \
	rc=$$?; echo "== SQLite run: exit $$rc in $$((SECONDS - start))s =="; exit $$rc

test-postgres: $(DEV_STAMP)
	@if $(call reachable,$(TEST_REDIS_URL),6379); then redis='REDIS_URL=$(TEST_REDIS_URL)'; else redis=; fi; \
	echo "== tests on PostgreSQL ($(TEST_PG_URL))$${redis:+ with Redis ($(TEST_REDIS_URL))} =="; \
	start=$$SECONDS; \
	$(TEST_ENV) DATABASE_URL='$(TEST_PG_URL)' $$redis $(BIN)/pytest -m "not e2e" $(XDIST) $(PYTEST_ARGS); \
	rc=$$?; echo "== PostgreSQL run: exit $$rc in $$((SECONDS - start))s =="; exit $$rc

# All three run, so one report shows every problem; the target fails if any did.
lint: $(DEV_STAMP)
	@status=0; \
	echo "== ruff check =="; $(BIN)/ruff check . || status=1; \
	echo "== ruff format --check =="; $(BIN)/ruff format --check . || status=1; \
	echo "== mypy guanxi =="; $(BIN)/mypy guanxi || status=1; \
	exit $$status

# pytest exits 5 when it collected no test: fine while tests/e2e has no test files, a failure after.
e2e: $(DEV_STAMP)
	@echo "== browser journeys (Chromium) =="
	@$(TEST_ENV) $(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ] && ! ls tests/e2e/test_*.py tests/e2e/*/test_*.py >/dev/null 2>&1; then \
		echo "No browser journeys yet (tests/e2e has no test files)."; rc=0; \
	fi; exit $$rc

bench: $(STAMP)
	@found=0; for script in bench/*.py; do \
		[ -e "$$script" ] || continue; \
		case "$$(basename $$script)" in _*|conftest.py) continue;; esac; \
		found=1; echo "== $$script =="; $(BIN)/python "$$script" $(BENCH_ARGS) || exit $$?; \
	done; \
	[ $$found -eq 1 ] || echo "No benchmarks yet: add scripts under bench/ and make bench runs each one."

messages: $(STAMP)
	cd guanxi && ../$(BIN)/python ../manage.py makemessages -l zh_Hans -l en --no-obsolete \
		--ignore 'static/*' --ignore 'migrations/*'
	cd guanxi && ../$(BIN)/python ../manage.py compilemessages --ignore 'static/*'

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache test-artifacts
	rm -f var/test_guanxi_*.sqlite3*
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
