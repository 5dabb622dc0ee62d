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

.PHONY: wrapper
wrapper: ## Build the function-pod wrapper (Go, static) into the cache outside the repo (only when changed).
	hack/wrapper/build.sh

.PHONY: run-fnrunner
run-fnrunner: venv ## Start the function runner locally on 127.0.0.1:9445 (builtin and exec evaluators only).
	$(VPY) -m fnrunner --disable-runtimes pod --watch-function-configs false $(FNRUNNER_ARGS)

.PHONY: lint
lint: venv ## Run ruff, mypy, import-linter and hadolint (Dockerfiles).
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# The editable install maps porch_operator → operator/ with an import hook that mypy cannot follow;
	@# a symlink farm in the venv gives mypy the installed names instead.
	mkdir -p $(VENV)/typecheck
	ln -sfn $(CURDIR)/operator $(VENV)/typecheck/porch_operator
	ln -sfn $(CURDIR)/fnrunner $(VENV)/typecheck/fnrunner
	MYPYPATH=$(VENV)/typecheck $(VENV)/bin/mypy -p porch_operator -p fnrunner
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint Dockerfile.operator Dockerfile.fnrunner

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

##@ Images, install and kind (see docs/install.md)

# Image repositories and tag; OPERATOR_IMG/FNRUNNER_IMG are what `images` builds and `deploy` installs.
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
OPERATOR_IMAGE ?= porch-operator
FNRUNNER_IMAGE ?= porch-fnrunner
OPERATOR_IMG := $(OPERATOR_IMAGE):$(IMAGE_TAG)
FNRUNNER_IMG := $(FNRUNNER_IMAGE):$(IMAGE_TAG)
KIND_CLUSTER ?= porch-e2e
KIND_VERSION ?= v0.33.0
# The node image kind $(KIND_VERSION) was released with (its pkg/apis/config/defaults/image.go), by digest.
KIND_NODE_IMAGE ?= kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5
LOCALBIN := $(CURDIR)/.local/bin
KIND := $(LOCALBIN)/kind-$(KIND_VERSION)
DEPLOY_DIR := .local/deploy

.PHONY: argocd-health
argocd-health: venv ## Regenerate config/argocd/argocd-cm-health.yaml from config/argocd/health/*.lua.
	$(VPY) hack/generate_argocd_health.py

.PHONY: docker-check
docker-check: ## Fail early, with a clear message, where no Docker engine is reachable.
	@command -v docker >/dev/null 2>&1 || { echo "error: 'make $(MAKECMDGOALS)' needs Docker, and the docker CLI is not installed." >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "error: 'make $(MAKECMDGOALS)' needs a running Docker engine, and 'docker info' reaches none. Without Docker, 'make test-e2e' runs the end-to-end suite against a local control plane." >&2; exit 1; }

.PHONY: images
images: docker-check ## Build the operator and fnrunner images OPERATOR_IMG, FNRUNNER_IMG (needs Docker).
	docker build -f Dockerfile.operator --build-arg VERSION=$(IMAGE_TAG) -t $(OPERATOR_IMG) .
	docker build -f Dockerfile.fnrunner --build-arg VERSION=$(IMAGE_TAG) -t $(FNRUNNER_IMG) .

$(KIND):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) GOFLAGS=-mod=mod go install sigs.k8s.io/kind@$(KIND_VERSION)
	mv $(LOCALBIN)/kind $(KIND)

.PHONY: kind-up
kind-up: docker-check $(KIND) ## Create the kind cluster KIND_CLUSTER from the pinned node image (needs Docker).
	mkdir -p $(KIND_E2E_ROOT)
	@$(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)' || \
	  $(KIND) create cluster --name $(KIND_CLUSTER) --image $(KIND_NODE_IMAGE) --config hack/kind/cluster.yaml --wait 120s
	kubectl config use-context kind-$(KIND_CLUSTER)

.PHONY: kind-load
kind-load: images $(KIND) ## Build the images and load them into the kind cluster (needs Docker).
	$(KIND) load docker-image $(OPERATOR_IMG) $(FNRUNNER_IMG) --name $(KIND_CLUSTER)

.PHONY: kind-down
kind-down: docker-check $(KIND) ## Delete the kind cluster.
	$(KIND) delete cluster --name $(KIND_CLUSTER)

# An overlay of DEPLOY_BASE that sets the images (kustomize cannot take them from the command line).
DEPLOY_BASE ?= config/default
.PHONY: deploy-overlay
deploy-overlay:
	mkdir -p $(DEPLOY_DIR)
	printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
	  'resources: [../../$(DEPLOY_BASE)]' 'images:' \
	  '- {name: porch-operator, newName: "$(OPERATOR_IMAGE)", newTag: "$(IMAGE_TAG)"}' \
	  '- {name: porch-fnrunner, newName: "$(FNRUNNER_IMAGE)", newTag: "$(IMAGE_TAG)"}' > $(DEPLOY_DIR)/kustomization.yaml

.PHONY: deploy
deploy: deploy-overlay ## Install CRDs, RBAC and the operator (OPERATOR_IMG, FNRUNNER_IMG) in the current kubectl context.
	kubectl apply --server-side -k config/crd
	kubectl wait --for=condition=Established crd -l app.kubernetes.io/part-of=porch-operator --timeout=60s
	kubectl apply --server-side -k $(DEPLOY_DIR)
	kubectl -n porch-system rollout status deployment/porch-operator --timeout=300s

.PHONY: undeploy
undeploy: deploy-overlay ## Remove porch objects (git stays), then the operator, RBAC and CRDs (docs/install.md).
	@# Variants first (they would recreate revisions), then Repositories: the running operator removes their
	@# revisions, files and packages; only then the operator and the CRDs.
	-kubectl delete packagevariantsets.config.porch.kpt.dev,packagevariants.config.porch.kpt.dev --all -A --timeout=300s
	-kubectl delete repositories.config.porch.kpt.dev --all -A --timeout=600s
	kubectl delete -k $(DEPLOY_DIR) --ignore-not-found --timeout=300s

# Mounted into the kind node and the operator pod at the same path (hack/kind/cluster.yaml, config/kind).
KIND_E2E_ROOT := /tmp/porch-e2e-kind

.PHONY: test-e2e-kind
test-e2e-kind: venv kind-up kind-load ## The operator e2e suite against a kind cluster running the built images (needs Docker).
	$(MAKE) deploy DEPLOY_BASE=config/kind
	@# umask 000: the operator (uid 65532) pushes to the git repositories the tests create.
	mkdir -p $(KIND_E2E_ROOT)
	umask 000 && PORCH_E2E_KIND_CLUSTER=$(KIND_CLUSTER) PORCH_E2E_KIND=$(KIND) \
	  $(VPY) -m pytest tests/e2e/porch --basetemp=$(KIND_E2E_ROOT)/pytest $(PYTEST_ARGS)

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
