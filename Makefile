# The two commands that matter:  make up  (provision)  and  make test  (the whole offline suite).
SHELL := /bin/bash
PYTHON_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
# SKIP_DOCTOR=1 make up  skips the preflight against your project (make doctor).
SKIP_DOCTOR ?=
# DOCTOR_FLAGS=--read-only  checks only what a preview needs (the CI previewer's drift check).
DOCTOR_FLAGS ?=
POLICY := --policy-pack policy --policy-pack-config policy/config.json

.PHONY: up preview destroy doctor ready test venv test-venv policy-venv stack snapshot train-local bench bench-serve lint clean

$(VENV)/.installed: requirements.txt
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# torch from PyTorch's CPU wheel index on Linux (PyPI's Linux wheel is the CUDA build, with several GB
# of nvidia-* wheels); the version is the one training/requirements.txt pins. Only torch itself comes
# from that index (--no-deps): its requirements come from PyPI with the rest.
TORCH_VERSION := $(shell sed -n 's/^torch==//p' training/requirements.txt)
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
ifeq ($(shell uname -s),Linux)
TORCH_CPU := --no-deps --retries 1 --extra-index-url $(TORCH_CPU_INDEX) torch==$(TORCH_VERSION)+cpu
else
TORCH_CPU := torch==$(TORCH_VERSION)
endif

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt training/requirements.txt training/pyproject.toml
	$(PY) -m pip install --quiet $(TORCH_CPU)
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

# The policy pack runs in its own environment (policy/PulumiPolicy.yaml).
policy/.venv/.installed: policy/requirements.txt
	$(PYTHON_BOOT) -m venv policy/.venv
	policy/.venv/bin/pip install --quiet -r policy/requirements.txt
	touch $@

venv: $(VENV)/.installed
test-venv: $(VENV)/.installed-test
policy-venv: policy/.venv/.installed

# Before anything is installed or created: the Pulumi CLI, the project, and the state backend this
# checkout's stacks live in (never switched silently; see tools/preflight.py).
# The backend goes to the pulumi commands, never through `pulumi login`: your CLI's own login stays as it
# was. A recipe resolves it once and stops if it cannot: an empty PULUMI_BACKEND_URL would mean that login.
WITH_BACKEND = backend="$$($(PYTHON_BOOT) tools/preflight.py --stack $(STACK))" || exit 1; \
	export PULUMI_BACKEND_URL="$$backend";
WITH_PROJECT = project="$$($(PYTHON_BOOT) tools/preflight.py --stack $(STACK) --print project)" || exit 1;

ready:
	@$(PYTHON_BOOT) tools/preflight.py --stack $(STACK) >/dev/null
	@$(MAKE) --no-print-directory venv policy-venv

# A read-only preflight against your project: the Pulumi CLI, credentials, billing, APIs, permissions,
# quota, images, the state backend. It finds the project and backend as make does, and reports what is
# missing (the CLI included) as one line each, so it needs only the virtual environment.
doctor: venv
	$(PY) -m tools.doctor --stack $(STACK) $(DOCTOR_FLAGS)

stack: ready
	@mkdir -p .pulumi-state
	@$(WITH_BACKEND) $(WITH_PROJECT) set -x; pulumi stack select --create $(STACK) && \
	{ pulumi config get gcp:project --stack $(STACK) >/dev/null 2>&1 || pulumi config set gcp:project "$$project" --stack $(STACK); }

up: ready
	@if [ -z "$(SKIP_DOCTOR)" ]; then $(MAKE) --no-print-directory doctor; fi
	@$(MAKE) --no-print-directory stack
	@$(WITH_BACKEND) set -x; pulumi up --stack $(STACK) $(POLICY)

preview: stack
	@$(WITH_BACKEND) set -x; pulumi preview --diff --stack $(STACK) $(POLICY)

destroy: stack
	@$(WITH_BACKEND) set -x; pulumi destroy --stack $(STACK)

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

bench-serve: test-venv
	$(MAKE) -C training bench-serve

lint: test-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint training/Dockerfile
	$(VENV)/bin/actionlint .github/workflows/*.yml

clean:
	rm -rf $(VENV) policy/.venv .pytest_cache training/runs .pulumi-build
