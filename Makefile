# porch-operator: package orchestration for kpt packages in git, as a CRD-only operator.
# `make help` lists the targets. `make run` and `make test` are the two a newcomer needs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
# The venv is rebuilt when pyproject.toml changes (its pins are the install's source of truth).
VENV_STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
PYTEST_ARGS ?=
export PYTHONPATH := $(CURDIR)/hack
# Loopback traffic must never go through a proxy.
comma := ,
export NO_PROXY := 127.0.0.1,localhost$(if $(NO_PROXY),$(comma)$(NO_PROXY))
export no_proxy := $(NO_PROXY)

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Set-up

.PHONY: venv
venv: $(VENV_STAMP) ## Create .venv with the pinned Python packages (editable install of this project).

$(VENV_STAMP): pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip==25.3
	$(VPY) -m pip install --quiet -e '.[dev]'
	touch $@

.PHONY: controlplane
controlplane: ## Build etcd, kube-apiserver and kube-controller-manager from Go modules (cached; only when missing).
	hack/controlplane/build.sh

##@ Development

.PHONY: crds
crds: venv ## Regenerate crds/ from the pydantic models (the only way crds/ changes).
	$(VPY) hack/generate_crds.py

.PHONY: proto
proto: venv ## Regenerate the gRPC stubs in fnrunner/api from evaluator.proto.
	$(VPY) hack/generate_proto.py

.PHONY: lint
lint: venv ## Run ruff, mypy and import-linter.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# The editable install maps porch_operator → operator/ with an import hook that mypy cannot follow;
	@# a symlink farm in the venv gives mypy the installed names instead.
	mkdir -p $(VENV)/typecheck
	ln -sfn $(CURDIR)/operator $(VENV)/typecheck/porch_operator
	ln -sfn $(CURDIR)/fnrunner $(VENV)/typecheck/fnrunner
	MYPYPATH=$(VENV)/typecheck $(VENV)/bin/mypy -p porch_operator -p fnrunner
	$(VENV)/bin/lint-imports

.PHONY: fmt
fmt: venv ## Format the code with ruff.
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

##@ Tests

.PHONY: test
test: venv controlplane lint ## Run every test: lint, unit and end-to-end (builds what is missing first).
	$(VPY) -m pytest tests $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: venv ## Run the unit tests only.
	$(VPY) -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: test-e2e
test-e2e: venv controlplane ## Run the end-to-end tests against a local control plane started by the test session.
	$(VPY) -m pytest tests/e2e $(PYTEST_ARGS)

.PHONY: bench
bench: venv controlplane ## Run the benchmarks under hack/bench/ (they print figures; they never fail a build).
	@for b in hack/bench/bench_*.py; do echo "== $$b"; $(VPY) $$b; done

##@ Run locally

.PHONY: run
run: venv controlplane ## Start the whole system locally in the foreground; Ctrl-C stops everything.
	$(VPY) -m localcluster run

.PHONY: controlplane-up
controlplane-up: venv controlplane ## Start the local control plane in the background (kubeconfig in .local/kubeconfig).
	$(VPY) -m localcluster up

.PHONY: controlplane-down
controlplane-down: venv ## Stop the background control plane.
	$(VPY) -m localcluster down

.PHONY: clean
clean: ## Remove the venv and local state (the control-plane binary cache outside the repo is kept).
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
