# evaltool: the two set-up commands of the README are `make demo` and `make test`.
# Each installs what it needs into .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pip on some machines warns about every missing local index; keep its real errors only.
PIP_QUIET := 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }

.PHONY: install demo migrate refresh test test-embedded test-pg15 lint docs format clean bench-load \
	bench-run bench-score bench-verdicts bench-scale bench-workers

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "evaltool needs Python 3.11 or newer: make PYTHON=python3.11 ..." >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip $(PIP_QUIET)
	$(BIN)/pip install -q -e '.[dev]' $(PIP_QUIET)
	touch $@

install: $(BIN)/.installed

## demo: on the embedded PostgreSQL, run the evaluation of examples/qa-suite.yaml in one
## command (load the example test cases, run two local model versions over them 5 times per
## test case, score them in SQL, compare them, write reports/out/demo-suite.html and .md),
## name the flaky test cases, then have a local judge compare the two pairwise and print
## their Bradley-Terry ratings
demo: install
	$(BIN)/evaltool db up
	$(BIN)/evaltool db migrate
	$(BIN)/evaltool eval examples/qa-suite.yaml
	$(BIN)/evaltool runs flaky demo-v2
	$(BIN)/evaltool refresh
	$(BIN)/evaltool db psql -f examples/demo_compare.sql
	$(BIN)/evaltool models add demo-judge --adapter python --model-id examples.qa_models:judge --exist-ok
	$(BIN)/evaltool preferences judge demo-v1 demo-v2 --judge demo-judge
	$(BIN)/evaltool preferences ratings

## migrate: apply migrations and re-apply sql/ (EVALTOOL_DATABASE_URL or the embedded server)
migrate: install
	$(BIN)/evaltool db migrate

## refresh: recompute the per-run statistics left stale, refresh any materialized view
## (schedule it: evaltool refresh --schedule)
refresh: install
	$(BIN)/evaltool refresh

## test: the whole suite, against the embedded PostgreSQL 18 and the machine's PostgreSQL 15,
## both at once (separate servers); each one's output is shown when it is done. The tests of
## the server's SQL run on both; each of the others (no server, or processes and signals)
## on one of the two, so that the runs take about as long (tests/fix_db.py)
test: install
	.ci/install-chromium
	$(MAKE) --no-print-directory -j2 --output-sync=target test-embedded test-pg15 SPLIT=1

test-embedded: install
	$(if $(SPLIT),EVALTOOL_TEST_SHARE=0 )$(BIN)/pytest

# Its own temporary root: pytest resets the mode of /tmp/pytest-of-USER when a session
# starts, which would lock the other session's embedded servers out of their directories.
test-pg15: install
	mkdir -p -m 755 /tmp/evaltool-pg15-tests
	TMPDIR=/tmp/evaltool-pg15-tests $(if $(SPLIT),EVALTOOL_TEST_SHARE=1 ).ci/with-pg15 $(BIN)/pytest

## bench-load: evaltool load against COPY limits, executemany and an ORM (1,000,000 rows)
bench-load: install
	$(BIN)/pip install -q -e '.[dev,bench]' $(PIP_QUIET)
	$(BIN)/python bench/load.py $(BENCH_ARGS)

## bench-run: evaltool run against a bare asyncio client on a local server (20,000 calls)
bench-run: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## bench-score: SQL scoring, compare_runs and refresh over 2 x 1,000,000 responses
bench-score: install
	$(BIN)/python bench/score.py $(BENCH_ARGS)

## bench-scale: every-day operations with 10 runs of history, then with 1,000 runs x 10,000
## responses plus one run of 1,000,000 (a scratch database of about 10 GB)
bench-scale: install
	$(BIN)/python bench/scale.py $(BENCH_ARGS)

## bench-workers: one run answered by 1, 2, 4 and 8 worker processes on a slow local model
## server: throughput against its bound, and the database's load
bench-workers: install
	$(BIN)/python bench/workers.py $(BENCH_ARGS)

## bench-verdicts: false alarms, coverage and power of compare's verdicts, by simulation
bench-verdicts: install
	$(BIN)/python bench/verdicts.py $(BENCH_ARGS)

## lint: ruff, mypy over evaltool/, and the generated docs are current (docs/generate.py
## --check reads the Click commands and the catalog of a scratch database on evaltool's
## server; fix with make docs)
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python docs/generate.py --check

## docs: regenerate docs/cli.md, docs/schema.md and the scorer table of docs/scoring.md
docs: install
	$(BIN)/python docs/generate.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	-$(BIN)/evaltool db stop
	rm -rf $(VENV) .evaltool .pytest_cache .ruff_cache
