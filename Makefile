# The two commands of the README: `make run` and `make test`. Also `make lint`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Django 6.1 wants Python >= 3.12: take the newest Python the machine has, 3.14 or 3.13 (pyenv's too), then 3.12,
# then plain python3 (3.11 gets Django 5.2 LTS through the markers in requirements.txt). Each candidate must run:
# pyenv's shims exist for versions that are not active and answer "command not found".
# `PYTHON=python3.11 make run` picks one; VENV=.venv-py3.11 keeps its venv beside the default .venv.
PYENV_ROOT ?= $(HOME)/.pyenv
# pyenv's builds of one minor version, newest patch first; free-threaded (3.13.0t) and -dev builds left out.
pyenv_pythons = $(shell printf '%s\n' $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python3) \
	| grep -E '/versions/$(subst .,\.,$(1))\.[0-9]+/bin/python3$$' | sort -rV)
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for candidate in python3.14 python3.13 $(call pyenv_pythons,3.14) $(call pyenv_pythons,3.13) \
	python3.12 $(call pyenv_pythons,3.12) python3 python3.11 $(call pyenv_pythons,3.11); do \
	if $$candidate -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then echo $$candidate; break; fi; done)
endif
VENV ?= .venv
BIN := $(VENV)/bin
# Arguments for pytest, e.g. `make test PYTEST_ARGS="-x tests/accounts"`.
PYTEST_ARGS ?=

python_version = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
# A PYTHON given by hand must be the one the venv was made with, or `PYTHON=python3.11 make test` would quietly run
# an existing .venv's 3.13.
ifneq ($(filter command line environment environment override,$(origin PYTHON)),)
ifneq ($(wildcard $(BIN)/python),)
ifneq ($(filter-out clean help which-python,$(or $(MAKECMDGOALS),help)),)
ifneq ($(call python_version,$(BIN)/python),$(call python_version,$(PYTHON)))
$(error $(VENV) holds Python $(call python_version,$(BIN)/python), not PYTHON=$(PYTHON) \
	($(or $(call python_version,$(PYTHON)),which does not run)). Give it a venv of its own, \
	e.g. VENV=.venv-py$(call python_version,$(PYTHON)), or `make clean VENV=$(VENV)` first)
endif
endif
endif
endif

.PHONY: help which-python run test lint format migrate seed clean bench

help:
	@echo "make run   install into $(VENV), migrate, load the demo clinic, make a VAPID key if none, start web + Celery worker + beat"
	@echo "make test  install what the tests need and run the whole suite"
	@echo "make lint  ruff and mypy"
	@echo "Python: $(or $(PYTHON),none >= 3.11 found) (PYTHON=python3.11 make run picks one; VENV=.venv-py3.11 gives it its own venv)"

which-python:
	@echo $(PYTHON)

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "No Python >= 3.11 found; set PYTHON=/path/to/python3"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "PYTHON=$(PYTHON) does not run, or is older than 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

# `make run` is for a developer machine: local mode, whose keys are the repository's (tacro_topical/settings.py).
# Anything else must say DJANGO_ENV itself, so an explicit one wins here. Per target: the bench targets keep the
# production settings bench/environment.py gives them. The tests set local mode in tests/settings.py.
migrate seed run: export DJANGO_ENV ?= local
# mypy's Django plugin loads the settings, which refuse to load without a mode; types do not depend on it.
lint: export DJANGO_ENV = local

migrate: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# Web Push: unless WEBPUSH_VAPID_PRIVATE_KEY is set (environment or .env), `make run` signs with a VAPID key of its
# own, made on the first start and kept in var/ (not in git), and hands its path to web, worker and beat.
VAPID_KEY_FILE ?= var/webpush/vapid-private.pem

run: seed
	@echo "Web: http://127.0.0.1:8000/admin/  App: http://127.0.0.1:8000/app/  API docs: http://127.0.0.1:8000/api/docs/"
	@vapid_key="$$($(BIN)/python scripts/vapid_key.py $(VAPID_KEY_FILE))" || exit 1; \
	echo 'PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile'; \
	WEBPUSH_VAPID_PRIVATE_KEY="$$vapid_key" PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

test: $(VENV)/.dev-installed
	@$(BIN)/python -c 'import sys, django; print(f"Python {sys.version.split()[0]}, Django {django.get_version()} ($(VENV))")'
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache

# Issue #3's benchmarks on PostgreSQL (see BENCHMARKS.md). A database of their own, created if missing.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tacro_bench

bench: $(VENV)/.dev-installed
	DATABASE_URL="$(BENCH_DATABASE_URL)" $(BIN)/python bench/tracking_bench.py

# Issue #4's reminder benchmarks (see BENCHMARKS.md): a PostgreSQL database and Redis database 14 of their own.
# Loads the data set only when it is missing, and makes bench/reminders/.venv-beat for the django-celery-beat
# baseline. BENCH_REMINDERS_ARGS passes options to run.py, e.g. "--only sweep --sweep-runs 3".
BENCH_REMINDERS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tacro_bench_reminders
BENCH_REMINDERS_BEAT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tacro_bench_beat
BENCH_REMINDERS_BROKER_URL ?= redis://127.0.0.1:6379/14
BENCH_REMINDERS_ARGS ?=
BEAT_VENV := bench/reminders/.venv-beat

.PHONY: bench-reminders

$(BEAT_VENV)/.installed: bench/reminders/requirements-beat.txt | $(BIN)/python
	$(BIN)/python -m venv $(BEAT_VENV)
	$(BEAT_VENV)/bin/pip install --quiet -r bench/reminders/requirements-beat.txt
	@touch $@

bench-reminders: $(VENV)/.dev-installed $(BEAT_VENV)/.installed
	DATABASE_URL="$(BENCH_REMINDERS_DATABASE_URL)" $(BIN)/python bench/reminders/setup_data.py
	DATABASE_URL="$(BENCH_REMINDERS_DATABASE_URL)" BEAT_DATABASE_URL="$(BENCH_REMINDERS_BEAT_DATABASE_URL)" \
		CELERY_BROKER_URL="$(BENCH_REMINDERS_BROKER_URL)" $(BIN)/python bench/reminders/run.py $(BENCH_REMINDERS_ARGS)

# Issue #5's admin benchmarks (see BENCHMARKS.md): the patient list and review page on a PostgreSQL database of
# its own (10,000 patients, 2,000,000 logs; loaded only when missing or older than a week). BENCH_ADMIN_ARGS
# passes options to run.py, e.g. "--only list --only review-heavy" or "--profile list".
BENCH_ADMIN_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tacro_bench_admin
BENCH_ADMIN_ARGS ?=

.PHONY: bench-admin

bench-admin: $(VENV)/.dev-installed
	DATABASE_URL="$(BENCH_ADMIN_DATABASE_URL)" $(BIN)/python bench/admin/setup_data.py
	DATABASE_URL="$(BENCH_ADMIN_DATABASE_URL)" $(BIN)/python bench/admin/run.py $(BENCH_ADMIN_ARGS)

# Issue #6's API load benchmark (see BENCHMARKS.md): gunicorn on a PostgreSQL database of its own (1,000 patients
# and their JWTs, made when missing) under locust, against a bare Django floor view. Redis database 13 is the cache
# (throttle counts), 12 the Celery broker (no worker; emptied before each run). Makes bench/api_load/.venv-locust,
# which keeps locust and gevent out of .venv. BENCH_API_ARGS passes options to run.py, e.g. "--only max --runs 5"
# or "--profile".
BENCH_API_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tacro_bench_api
BENCH_API_CACHE_URL ?= redis://127.0.0.1:6379/13
BENCH_API_BROKER_URL ?= redis://127.0.0.1:6379/12
BENCH_API_ARGS ?=
LOCUST_VENV := bench/api_load/.venv-locust
BENCH_API_ENV = DATABASE_URL="$(BENCH_API_DATABASE_URL)" CACHE_URL="$(BENCH_API_CACHE_URL)" \
	CELERY_BROKER_URL="$(BENCH_API_BROKER_URL)"

.PHONY: bench-api-load

$(LOCUST_VENV)/.installed: bench/api_load/requirements-locust.txt | $(BIN)/python
	$(BIN)/python -m venv $(LOCUST_VENV)
	$(LOCUST_VENV)/bin/pip install --quiet -r bench/api_load/requirements-locust.txt
	@touch $@

bench-api-load: $(VENV)/.dev-installed $(LOCUST_VENV)/.installed
	$(BENCH_API_ENV) $(BIN)/python bench/api_load/setup_data.py
	$(BENCH_API_ENV) $(BIN)/python bench/api_load/run.py $(BENCH_API_ARGS)

# Issue #6's fault benchmarks (see RELIABILITY.md): a Redis on 6390 and a PostgreSQL cluster "faults" on 5440 of
# their own (never the shared 6379/5432), created if missing and left running (bench/faults/infra.py --stop stops
# them). About 28 minutes. BENCH_FAULTS_ARGS passes options to run_all.py, e.g. "--only f3 --only f4" or "--quick".
BENCH_FAULTS_ARGS ?=

.PHONY: bench-faults

bench-faults: $(VENV)/.dev-installed
	$(BIN)/python bench/faults/run_all.py $(BENCH_FAULTS_ARGS)
