# Flywheel: everything runs as local processes (see infra/local/). `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTEST_ARGS ?=
PY := .venv/bin/python
# Runs a command with .env exported (created from .env.example when missing).
WITH_ENV := infra/local/stack.sh exec

.PHONY: help up down status logs install test test-scale test-scale-ci unit compose compose-check clients demo lint lock bench chaos dead-letters replay-dead-letters

help: ## this list
	@echo "make up       start postgres, rabbitmq, mail sink, the five services and the gateway"
	@echo "              (SCALE=N: N instances of each service behind haproxy, e.g. make up SCALE=2)"
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

# What .ci/run runs with SCALE=2 after make test (about half the time of all of e2e + chaos): the
# chaos suite and the end-to-end flows that cross services through events, jobs or concurrent
# writes, where two instances competing for queues and jobs could change the outcome. The rest
# (authorization matrix, input validation, one service's CRUD) takes the same request path on any
# instance and already ran in make test. `make test-scale` runs everything.
SCALE_SUBSET := tests/chaos tests/e2e/test_vertical_slice.py tests/e2e/test_events.py \
	tests/e2e/test_points_orders.py tests/e2e/test_points_expiry.py tests/e2e/test_points_rewards.py \
	tests/e2e/test_points_challenges_notify.py tests/e2e/test_notifications_flows.py \
	tests/e2e/test_notifications_webhooks.py tests/e2e/test_customers_webhooks.py \
	tests/e2e/test_customers_segments.py tests/e2e/test_referrals.py tests/e2e/test_reviews_requests.py \
	tests/e2e/test_gdpr_across_services.py
SCALE_TESTS ?= tests/e2e tests/chaos

# The timed bulk-import check is left to make test: with twice the processes on the same cores it
# measures the machine, not the code.
test-scale: ## the end-to-end and chaos suites with SCALE=2 (two instances of every service)
	SCALE=2 infra/local/stack.sh up
	$(WITH_ENV) $(PY) -m pytest -q $(SCALE_TESTS) \
		--deselect tests/e2e/test_points_bulk.py::test_thousands_in_one_call_idempotent_with_per_row_errors \
		$(PYTEST_ARGS)

test-scale-ci: ## make test-scale on the subset .ci/run runs (SCALE_SUBSET in the Makefile)
	$(MAKE) test-scale SCALE_TESTS="$(SCALE_SUBSET)"

unit: ## unit tests only, nothing needs to run
	infra/local/install.sh python
	$(WITH_ENV) $(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

compose: ## export each subgraph's SDL, compose gateway/supergraph.graphql, rebuild gateway/persisted/manifest.json, refresh clients/typescript
	$(WITH_ENV) $(PY) infra/export_sdl.py
	$(WITH_ENV) node gateway/compose.mjs
	$(WITH_ENV) node gateway/persist.mjs
	$(MAKE) clients

compose-check: ## fail when the committed SDL or supergraph is stale
	$(WITH_ENV) $(PY) infra/export_sdl.py --check
	$(WITH_ENV) node gateway/compose.mjs --check
	$(WITH_ENV) node gateway/persist.mjs --check

clients: ## regenerate the public schema and the TypeScript types (clients/typescript) from the supergraph
	$(WITH_ENV) node console/public-schema.mjs
	cd console && node_modules/.bin/graphql-codegen --config codegen.yml

demo: ## make up, then seed the demo storefront's shop (open http://localhost:$$CONSOLE_PORT/demo)
	infra/local/stack.sh up
	$(WITH_ENV) $(PY) -m console.demo_seed

lint: ## ruff check, then mypy (strict on shared/, clean on services/ and console/; settings in pyproject.toml)
	infra/local/install.sh python
	$(PY) -m ruff check .
	$(PY) -m mypy

lock: ## re-resolve requirements.lock from pyproject.toml
	.venv/bin/pip-compile --allow-unsafe --extra dev --generate-hashes --strip-extras \
		-o requirements.lock pyproject.toml

chaos: ## under order load: restart RabbitMQ, kill -9 points, restart Postgres; then check the invariants
	infra/local/stack.sh up
	$(WITH_ENV) $(PY) -m tests.chaos.scenario $(CHAOS_ARGS)

bench: ## benchmarks (starts the stack if needed): a table, and bench/results.json (BENCH_ARGS="--only panel")
	$(WITH_ENV) $(PY) -m tests.bench $(BENCH_ARGS)

dead-letters: ## each service's dead letters: count, oldest, reasons grouped, the oldest ones (SERVICE=…, SHOP=…)
	$(WITH_ENV) $(PY) -m shared.dead_letters list $(if $(SERVICE),--service $(SERVICE)) $(if $(SHOP),--shop $(SHOP))

replay-dead-letters: ## after a fix: SERVICE=… and LETTERS=1,2 | REASON=text | TYPE=order.paid | SHOP=… | ALL=1 (AGAIN=1: replayed ones too)
	$(WITH_ENV) $(PY) -m shared.dead_letters replay --service "$(SERVICE)" $(if $(LETTERS),--letters "$(LETTERS)") \
		$(if $(REASON),--reason "$(REASON)") $(if $(TYPE),--type "$(TYPE)") $(if $(SHOP),--shop "$(SHOP)") \
		$(if $(ALL),--all) $(if $(AGAIN),--again)
