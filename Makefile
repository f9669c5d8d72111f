# Cradle: two commands on a fresh clone.
#   make run    set up everything, start CouchDB-compatible server and Cradle, print URLs
#   make test   set up everything and run the whole suite against a throw-away server
# Set COUCHDB_URL (plus COUCHDB_USER / COUCHDB_PASSWORD) to use an existing Apache CouchDB 3.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CRADLE := $(VENV)/bin/cradle
DATA := .data
RUN_DIR := $(DATA)/run
COUCHDB_PORT ?= 5984
COUCHDB_USER ?= admin
COUCHDB_PASSWORD ?= cradle-dev-password
CRADLE_HOST ?= 127.0.0.1
CRADLE_PORT ?= 8000
export COUCHDB_USER COUCHDB_PASSWORD

ifeq ($(strip $(COUCHDB_URL)),)
  RUN_COUCHDB_URL := http://127.0.0.1:$(COUCHDB_PORT)
  OWN_COUCHDB := yes
else
  RUN_COUCHDB_URL := $(COUCHDB_URL)
  OWN_COUCHDB :=
endif

.PHONY: help setup venv node forms messages system browser run stop test lint format bench clean

# Debian packages: CJK fonts for the maps, gettext for the translations, and for the
# browser tests Debian's own Chromium and ChromeDriver (no test tool downloads a browser).
SYSTEM_PACKAGES := fonts-noto-cjk gettext
BROWSER_PACKAGES := chromium chromium-driver

help:
	@echo "make run    start CouchDB-compatible server + Cradle on http://$(CRADLE_HOST):$(CRADLE_PORT)"
	@echo "make stop   stop what make run started"
	@echo "make test   run the whole suite (ruff + pytest) against a throw-away server"
	@echo "make forms  build the XForms and their media into build/forms"
	@echo "make bench  run the benchmarks"

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node: node_modules/.installed

define apt_ensure
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (install them: sudo apt-get install$$missing)"; exit 1; fi; \
	fi
endef

system:
	$(call apt_ensure,$(SYSTEM_PACKAGES))

browser:
	$(call apt_ensure,$(BROWSER_PACKAGES))

setup: system venv node forms messages

messages: venv
	@if ls -d server/*/locale >/dev/null 2>&1; then \
	  cd server && ../$(CRADLE) manage compilemessages --verbosity 0; fi

forms: venv
	$(CRADLE) forms build --out build/forms

run: setup
	@mkdir -p $(RUN_DIR)
ifeq ($(OWN_COUCHDB),yes)
	@scripts/couchdb.sh start $(DATA)/couchdb $(COUCHDB_PORT)
endif
	@COUCHDB_URL=$(RUN_COUCHDB_URL) $(CRADLE) setup --dev-admin --demo
	@COUCHDB_URL=$(RUN_COUCHDB_URL) $(CRADLE) index refresh
	@if [ -f $(RUN_DIR)/cradle.pid ] && kill -0 "$$(cat $(RUN_DIR)/cradle.pid)" 2>/dev/null; then \
	  echo "cradle: already running (pid $$(cat $(RUN_DIR)/cradle.pid)); restarting it"; \
	  kill "$$(cat $(RUN_DIR)/cradle.pid)"; \
	  for i in $$(seq 1 50); do kill -0 "$$(cat $(RUN_DIR)/cradle.pid)" 2>/dev/null || break; sleep 0.2; done; \
	fi
	@COUCHDB_URL=$(RUN_COUCHDB_URL) $(CRADLE) serve --host $(CRADLE_HOST) --port $(CRADLE_PORT) \
	  --daemon --pid-file $(CURDIR)/$(RUN_DIR)/cradle.pid --log-file $(CURDIR)/$(RUN_DIR)/cradle.log
	@for i in $$(seq 1 100); do \
	  code=$$(curl -s -o /dev/null -w '%{http_code}' http://$(CRADLE_HOST):$(CRADLE_PORT)/api/health || true); \
	  [ "$$code" = 200 ] && break; sleep 0.2; \
	done; \
	if [ "$$code" != 200 ]; then \
	  echo "cradle: the server did not become healthy (last status $$code); last log lines:"; \
	  tail -n 20 $(RUN_DIR)/cradle.log; exit 1; \
	fi
	@echo
	@echo "Cradle is running."
	@echo "  health:        http://$(CRADLE_HOST):$(CRADLE_PORT)/api/health"
	@echo "  API docs:      http://$(CRADLE_HOST):$(CRADLE_PORT)/api/docs/"
	@echo "  admin site:    http://$(CRADLE_HOST):$(CRADLE_PORT)/admin/  (login admin / cradle-admin)"
	@echo "  ODK Collect:   server URL http://$(CRADLE_HOST):$(CRADLE_PORT)/"
	@echo "  CouchDB:       $(RUN_COUCHDB_URL)  (user $(COUCHDB_USER))"
	@echo "  logs:          $(RUN_DIR)/cradle.log, $(DATA)/couchdb/stdout.log"
	@echo "Stop with: make stop"

stop:
	@if [ -f $(RUN_DIR)/cradle.pid ]; then \
	  pid=$$(cat $(RUN_DIR)/cradle.pid); \
	  if kill -0 $$pid 2>/dev/null; then \
	    kill $$pid; for i in $$(seq 1 100); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
	    echo "cradle: stopped (pid $$pid)"; \
	  fi; rm -f $(RUN_DIR)/cradle.pid; \
	fi
	@scripts/couchdb.sh stop $(DATA)/couchdb

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	scripts/couchdb.sh run-with $(VENV)/bin/pytest $(PYTEST_ARGS)

bench: setup
	scripts/couchdb.sh run-with $(PY) -m benchmarks $(BENCH_ARGS)

clean: stop
	rm -rf build $(DATA)
