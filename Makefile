# Two commands on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export MONITOR_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install migrate run demo test services lint gates bench clean messages catalogs

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# torch first, from the CPU wheel on this machine's disk; anything else pulls a CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) catalogs

# Interface languages (ru default, kk, en): gettext catalogs under monitor/locale.
# `make messages` extracts the English message ids from the code and templates and merges them into
# each language's messages.po (translate the new empty entries, then `make catalogs`).
LOCALES := monitor/locale
messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project school-monitor -o $(LOCALES)/messages.pot .
	$(VENV)/bin/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) -D messages --width 120 --ignore-obsolete

# The compiled .mo files are committed too (a wheel built without make still has them); this refreshes them.
catalogs: $(STAMP)
	$(VENV)/bin/pybabel compile -d $(LOCALES) -D messages --statistics

migrate: install
	$(VENV)/bin/monitor db upgrade

# The first `make run` loads the synthetic demo data set (marked DEMO, removable with
# `monitor demo --remove`) so a new install shows a living queue; `make run DEMO=0` skips it.
DEMO ?= 1
DEMO_STAMP := data/.demo-loaded

demo: migrate
	$(VENV)/bin/monitor demo
	mkdir -p data && touch $(DEMO_STAMP)

run: migrate
	@if [ "$(DEMO)" = 1 ] && [ ! -f $(DEMO_STAMP) ]; then $(MAKE) --no-print-directory demo; fi
	@echo "school-monitor: sign in at $$($(VENV)/bin/python -c 'from monitor.core.config import load_settings; print(load_settings("config.toml").web.base_url)')/login"
	@echo "  (the demo moderator 'demo' and its password were printed by 'monitor demo' on the first run;"
	@echo "   add your own: .venv/bin/monitor users add NAME --role admin --password-stdin)"
	$(VENV)/bin/monitor run

services:
	bash scripts/services.sh

# The gates every change passes (CI runs them through `make test`): lint, types, layering.
gates: install
	$(VENV)/bin/ruff check monitor models scrapers bench tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

lint: gates

test: install services gates
	$(VENV)/bin/pytest --durations=20

clean:
	rm -rf $(VENV) data
