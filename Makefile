# alertrouter — every target runs through uv, so no virtualenv needs activating.
SHELL := /bin/bash
# uv on PATH, else the one scripts/bootstrap.sh installs for python3 (a bare machine has none at parse time).
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PY := $(UV) run python

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

bootstrap: ## Install what this machine lacks (Debian packages as root, uv, Kafka jars, Helm); see scripts/bootstrap.sh
	bash scripts/bootstrap.sh

sync: ## Install the workspace (all members and dev tools) into .venv
	$(UV) sync --all-packages --frozen

kafka-fetch: ## Fetch the pinned Apache Kafka broker jars from Maven Central into .cache/kafka
	$(PY) scripts/local_kafka.py fetch

dev: ## Run the whole system locally: Kafka, PostgreSQL, the three services, the example config
	BOOTSTRAP_SKIP_HELM=1 bash scripts/bootstrap.sh
	$(UV) sync --all-packages --frozen
	$(PY) scripts/dev.py

test: ## Run the whole test suite (starts its own Kafka and PostgreSQL; builds and runs the images with podman)
	bash scripts/bootstrap.sh --containers
	$(UV) sync --all-packages --frozen
	$(UV) run pytest -n 2 --dist loadfile  # two workers: the suite waits on services and brokers much of the time

lint: sync ## ruff, mypy (strict) and import-linter
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy shared/src services/ingest/src services/router/src services/notifier/src scripts/*.py tests
	$(UV) run lint-imports

fmt: ## Format and autofix
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

migrate: ## Apply the router's and the notifier's migrations to DATABASE_URL
	$(UV) run alertrouter-router migrate
	$(UV) run alertrouter-notifier migrate

validate-config: ## Validate the example ownership configuration and lint its coverage
	$(UV) run alertrouter-router config validate examples/ownership

bench: sync kafka-fetch ## Full benchmark beside a local Alertmanager (~20 min); writes docs/benchmarks.{md,json}
	$(UV) run python -m scripts.bench full

bench-quick: sync kafka-fetch ## A short benchmark for development (< 2 min); writes .run/bench/benchmarks-quick.md
	$(UV) run python -m scripts.bench quick

bench-ingest: sync kafka-fetch ## The full benchmark's intake phases only (ingest vs Alertmanager); writes .run/bench/benchmarks-ingest.md
	$(UV) run python -m scripts.bench full --only throughput --out .run/bench/benchmarks-ingest.md

helm: ## Build the pinned Helm CLI into .cache/bin
	bash scripts/install_helm.sh

images: ## Build the three images with podman on a Debian base (see docs/deployment.md, "Images in CI")
	bash scripts/bootstrap.sh --containers
	$(PY) scripts/images.py build --report .run/images/build.json

.PHONY: help bootstrap images sync kafka-fetch dev test lint fmt migrate validate-config bench bench-quick bench-ingest helm
