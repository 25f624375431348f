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
	$(TOOLS)/poetry/bin/pip install --quiet "poetry>=2.0,<3"

install: $(POETRY)
	$(POETRY) install --no-interaction

run: install
	$(POETRY) run pipeline materialize $(ARGS)

test: install
	$(POETRY) run pytest $(ARGS)

lint: install
	$(POETRY) run ruff check .
	$(POETRY) run ruff format --check .

format: install
	$(POETRY) run ruff format .
	$(POETRY) run ruff check --fix .

clean:
	rm -rf .warehouse .pytest_cache .ruff_cache
