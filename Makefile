# The two commands that matter:  make up  (provision)  and  make test  (the whole offline suite).
SHELL := /bin/bash
PYTHON_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
# Local file state unless you point Pulumi elsewhere (e.g. gs://my-state-bucket).
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL

.PHONY: up preview destroy test venv test-venv snapshot train-local bench lint clean stack

$(VENV)/.installed: requirements.txt
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# torch from PyTorch's CPU wheel index on Linux (PyPI's Linux wheel is the CUDA build, with several GB
# of nvidia-* wheels); the version is the one training/requirements.txt pins.
TORCH_VERSION := $(shell sed -n 's/^torch==//p' training/requirements.txt)
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
ifeq ($(shell uname -s),Linux)
TORCH_CPU := --retries 1 --extra-index-url $(TORCH_CPU_INDEX) torch==$(TORCH_VERSION)+cpu
else
TORCH_CPU := torch==$(TORCH_VERSION)
endif

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt training/requirements.txt training/pyproject.toml
	$(PY) -m pip install --quiet $(TORCH_CPU)
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

venv: $(VENV)/.installed
test-venv: $(VENV)/.installed-test

# Select (or create) the stack and set gcp:project from GCP_PROJECT or gcloud, once.
stack: venv
	@command -v pulumi >/dev/null || { echo "The Pulumi CLI is required: https://www.pulumi.com/docs/install/"; exit 1; }
	@mkdir -p .pulumi-state
	pulumi login "$(PULUMI_BACKEND_URL)"
	pulumi stack select --create $(STACK)
	@if ! pulumi config get gcp:project >/dev/null 2>&1; then \
		project="$${GCP_PROJECT:-$$(gcloud config get-value project 2>/dev/null)}"; \
		if [ -z "$$project" ]; then echo "Set GCP_PROJECT or run: gcloud config set project YOUR_PROJECT_ID"; exit 1; fi; \
		pulumi config set gcp:project "$$project"; \
	fi

up: stack
	pulumi up --stack $(STACK)

preview: stack
	pulumi preview --diff --stack $(STACK)

destroy: stack
	pulumi destroy --stack $(STACK)

# The whole offline suite: no cloud, no Docker daemon, no Pulumi CLI needed.
# pytest exits 5 when it collects nothing: that is a failure here, never a pass.
test: test-venv
	@$(PY) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests"; fi; exit $$status

snapshot: test-venv
	$(PY) -m tools.snapshot

train-local: test-venv
	$(MAKE) -C training train-local

bench: test-venv
	$(MAKE) -C training bench

lint: test-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint training/Dockerfile
	$(VENV)/bin/actionlint .github/workflows/*.yml

clean:
	rm -rf $(VENV) .pytest_cache training/runs
