# Keepwarm: the two commands a developer needs are `make run` and `make test` (README.md).
#
# Everything installs into .venv, created with Python 3.11 when missing. Installs are stamped
# with pyproject.toml, so a second `make test` starts the suite at once and an edited
# pyproject.toml reinstalls.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
SEEDED := var/.seeded
PYTEST_ARGS ?=
# `make run PORT=8001`: the web server's port; the banner and the links in emails follow it.
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test smoke bench bench-notices bench-notices-fault lint install install-dev migrate seed clean

help:
	@echo "make run    serve Keepwarm at http://127.0.0.1:8000 (PORT=8001 for another) with a Celery worker and beat (demo data)"
	@echo "make test   install what tests need and run the whole suite (SQLite unless DATABASE_URL is set)"
	@echo "make lint   ruff, mypy (django-stubs) and import-linter (the app layering)"
	@echo "make smoke  the production stack run for real: gunicorn, worker, beat, PostgreSQL, Redis, SMTP"
	@echo "make bench  the benchmark (PostgreSQL and Redis; results in docs/benchmarks.md)"
	@echo "make bench-notices  only its outbox part: 10,000 reminders due at once, one Celery worker"
	@echo "make bench-notices-fault  only the outbox under a fault: the worker killed mid-run (lost, duplicated, time)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -qq -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -qq -e '.[dev]'
	@touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

migrate: $(RUNTIME_STAMP)
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo
	@touch $(SEEDED)

# Demo data once (var/.seeded marks it); seed_demo is idempotent, so `make seed` brings back
# anything deleted. With DEBUG on (the local settings) WhiteNoise serves static files straight
# from the apps, so there is nothing to collect. The Procfile runs the web server, one worker
# and exactly one beat (two beats would wake the dispatchers twice).
run: migrate
	@[ -f $(SEEDED) ] || { $(PY) manage.py seed_demo && touch $(SEEDED); }
	@echo ""
	@echo "Keepwarm: http://127.0.0.1:$(PORT)"
	@echo "Demo logins (password: keepwarm): rep, rep2, presales, salesmgr, delivery, deliverymgr, admin"
	@echo "Emails are written to var/mail/ and listed at http://127.0.0.1:$(PORT)/dev/mail/ (staff)."
	@echo "Ctrl-C stops the web server, the worker and beat."
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" PYTHONUNBUFFERED=1 KEEPWARM_PORT=$(PORT) $(BIN)/honcho start -f Procfile -p $(PORT)

# pytest exits 5 when it collected no test at all: not a failure of the code, but said out
# loud so nobody mistakes it for a green suite.
test: $(DEV_STAMP)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit code 5)."; exit 0; fi; \
	exit $$rc

# The production settings served for real (scripts/smoke.sh): needs PostgreSQL and Redis on
# 127.0.0.1; recreates the database keepwarm_smoke and flushes Redis db 9.
smoke: $(DEV_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/smoke.sh

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(DEV_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash bench/run.sh
	PATH="$(CURDIR)/$(BIN):$$PATH" bash bench/notices.sh

bench-notices: $(DEV_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash bench/notices.sh

bench-notices-fault: $(DEV_STAMP)
	BENCH_NOTICES_PARTS=fault PATH="$(CURDIR)/$(BIN):$$PATH" bash bench/notices.sh

clean:
	rm -rf $(VENV) var/static var/broker var/celerybeat-schedule* $(SEEDED)
