# The two commands:
#   make run    fresh clone -> a running museum on the embedded defaults
#   make test   the whole test suite (lint, format check, pytest)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=
# Where make run's logs go: the data folder's logs/ (AAG_DATA_DIR, as museum/settings.py reads it).
LOGS := $(or $(AAG_DATA_DIR),data)/logs

.PHONY: run test venv dev-deps migrate demo web worker lint format browser-deps clean-data help bench-pages

help:
	@echo "make run     install, migrate, fill the museum with the offline demo, start web + workers"
	@echo "make test    ruff lint + format check, then the whole pytest suite"

$(VENV)/.installed: requirements.txt
	@echo "==> Installing the requirements into $(VENV) (pip's output: $(LOGS)/pip.log)"
	@mkdir -p $(LOGS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --upgrade pip > $(LOGS)/pip.log 2>&1 || { tail -20 $(LOGS)/pip.log; exit 1; }
	@$(PY) -m pip install -r requirements.txt >> $(LOGS)/pip.log 2>&1 || { tail -20 $(LOGS)/pip.log; exit 1; }
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
dev-deps: $(VENV)/.dev-installed

migrate: venv
	$(PY) manage.py migrate --no-input

demo: migrate
	$(PY) manage.py demo

# Fill the museum (the demo migrates), then web and workers in the foreground;
# Ctrl-C stops them all. The console shows progress only: the demo's log goes to
# data/logs/demo.log, each process's to data/logs/<name>.log (under AAG_DATA_DIR when set).
run: venv
	@AAG_LOG_FILE=logs/demo.log $(PY) manage.py demo
	@$(PY) -m museum.localrun --host $(HOST) --port $(PORT)

lint: dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: dev-deps
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

browser-deps:
	@test -x $(CHROMIUM) || { \
	  echo "Chromium is needed for the browser tests: installing Debian's chromium package."; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

test: dev-deps browser-deps lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Public pages under load against a bare Django view (needs wrk: apt-get install -y wrk).
# DATABASE_URL / REDIS_URL, when set, are used as production would; see docs/benchmarks.md.
bench-pages: dev-deps
	$(PY) bench/page_load.py

clean-data:
	rm -rf data
