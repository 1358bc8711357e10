# Quick start: `make run` (app with demo data on SQLite), `make test` (every test).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := FLASK_APP=wsgi $(BIN)/flask

.PHONY: run test lint install install-dev services browser screenshots messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(FLASK) db upgrade
	$(FLASK) crm demo --if-empty
	scripts/serve

lint: install-dev
	$(BIN)/ruff check .

# Tests that start servers and browsers are marked slow. Those in the browser run alone: their
# time limits are the contract's (a live page within 2 s). The other servers' tests (races,
# faults, fuzzing) have no such limit and share the machine's cores (pytest-xdist), as the rest.
test: install-dev lint browser
	$(BIN)/pytest -n auto -m "not slow"; shared=$$?; \
	$(BIN)/pytest -n auto -m slow --ignore=tests/browser; servers=$$?; \
	$(BIN)/pytest -m slow tests/browser; alone=$$?; \
	exit $$(( shared || servers || alone ))

# Browser tests drive Debian's Chromium (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }

# Full-page PNGs of the main pages at 1280 and 390 px into docs/screenshots/ (demo data on a throw-away SQLite).
screenshots: install-dev browser
	$(BIN)/python scripts/screenshots.py

# Start the local PostgreSQL and Redis the tests need, if they are down.
services:
	bash .ci/services

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Extract every translatable string (N_ marks service messages that pages translate) into
# crm_web/translations/messages.pot and merge it into each catalog; then translate the empty
# msgstr entries (tests/web/test_i18n.py fails on any). The app compiles .po to .mo when it starts.
messages: install-dev
	mkdir -p crm_web/translations
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ --add-location=file --sort-by-file \
		--project "Mini CRM" -o crm_web/translations/messages.pot .
	$(BIN)/pybabel update -i crm_web/translations/messages.pot -d crm_web/translations \
		--no-fuzzy-matching --ignore-obsolete --width 100
