# Flywheel: everything runs as local processes (see infra/local/). `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTEST_ARGS ?=
PY := .venv/bin/python
# Runs a command with .env exported (created from .env.example when missing).
WITH_ENV := infra/local/stack.sh exec

.PHONY: help up down status logs install test unit compose compose-check lint lock bench chaos

help: ## this list
	@echo "make up       start postgres, rabbitmq, mail sink, the five services and the gateway"
	@echo "make test     make up, then the whole pytest suite (PYTEST_ARGS='-k x' to narrow it)"
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | grep -vE '^(up|test):' \
		| awk -F':.*## ' '{printf "make %-12s %s\n", $$1, $$2}'

up: ## start everything (installs what is missing), wait until healthy
	infra/local/stack.sh up

down: ## stop everything
	infra/local/stack.sh down

status: ## one line per component
	infra/local/stack.sh status

logs: ## last 100 lines of every log (make logs NAME=points for one)
	infra/local/stack.sh logs $(NAME)

install: ## Debian packages, .venv, gateway npm packages (only what is missing)
	infra/local/install.sh

test: ## make up, then pytest -q $(PYTEST_ARGS)
	infra/local/stack.sh up
	$(WITH_ENV) $(PY) -m pytest -q $(PYTEST_ARGS)

unit: ## unit tests only, nothing needs to run
	infra/local/install.sh python
	$(WITH_ENV) $(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

compose: ## export each subgraph's SDL, compose gateway/supergraph.graphql, rebuild gateway/persisted/manifest.json
	$(WITH_ENV) $(PY) infra/export_sdl.py
	$(WITH_ENV) node gateway/compose.mjs
	$(WITH_ENV) node gateway/persist.mjs

compose-check: ## fail when the committed SDL or supergraph is stale
	$(WITH_ENV) $(PY) infra/export_sdl.py --check
	$(WITH_ENV) node gateway/compose.mjs --check
	$(WITH_ENV) node gateway/persist.mjs --check

lint: ## ruff check
	$(PY) -m ruff check .

lock: ## re-resolve requirements.lock from pyproject.toml
	.venv/bin/pip-compile --allow-unsafe --extra dev --generate-hashes --strip-extras \
		-o requirements.lock pyproject.toml

chaos: ## under order load: restart RabbitMQ, kill -9 points, restart Postgres; then check the invariants
	infra/local/stack.sh up
	$(WITH_ENV) $(PY) -m tests.chaos.scenario $(CHAOS_ARGS)

bench: ## benchmarks (tests/bench) against the running stack
	@if [ -e tests/bench/__init__.py ] || [ -e tests/bench.py ]; then \
		$(WITH_ENV) $(PY) -m tests.bench; \
	else \
		echo "no benchmarks yet (tests/bench)"; \
	fi
