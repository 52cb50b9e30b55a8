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
	bench-run bench-score bench-verdicts

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "evaltool needs Python 3.11 or newer: make PYTHON=python3.11 ..." >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip $(PIP_QUIET)
	$(BIN)/pip install -q -e '.[dev]' $(PIP_QUIET)
	touch $@

install: $(BIN)/.installed

## demo: on the embedded PostgreSQL, load the example test cases, run two local model
## versions over them (the second sampled 5 times per test case), score both in SQL, name
## the flaky test cases, compare them, and write the comparison report
DEMO_METRICS = --metric exact_match:all --metric numeric_close --metric edit_similarity \
	--metric latency_under:50
demo: install
	$(BIN)/evaltool db up
	$(BIN)/evaltool db migrate
	$(BIN)/evaltool load prompts examples/qa.jsonl --dataset demo-qa
	$(BIN)/evaltool models add demo-v1 --adapter python --model-id examples.qa_models:v1 --exist-ok
	$(BIN)/evaltool models add demo-v2 --adapter python --model-id examples.qa_models:v2 --exist-ok
	$(BIN)/evaltool models price demo-v1 --input-per-mtok 0.15 --output-per-mtok 0.60
	$(BIN)/evaltool models price demo-v2 --input-per-mtok 0.25 --output-per-mtok 1.00
	$(BIN)/evaltool models params demo-v2 temperature=0.8
	$(BIN)/evaltool run demo-v1 demo-qa --tag demo
	$(BIN)/evaltool run demo-v2 demo-qa --tag demo --repeats 5
	$(BIN)/evaltool score demo-v1 $(DEMO_METRICS)
	$(BIN)/evaltool score demo-v2 $(DEMO_METRICS)
	$(BIN)/evaltool runs flaky demo-v2
	$(BIN)/evaltool refresh
	$(BIN)/evaltool db psql -f examples/demo_compare.sql
	$(BIN)/evaltool compare demo-v1 demo-v2
	$(BIN)/evaltool report compare demo-v1 demo-v2 -o reports/out/demo-compare.html
	$(BIN)/evaltool report compare demo-v1 demo-v2 -o reports/out/demo-compare.md
	$(BIN)/evaltool models add demo-judge --adapter python --model-id examples.qa_models:judge --exist-ok
	$(BIN)/evaltool preferences judge demo-v1 demo-v2 --judge demo-judge
	$(BIN)/evaltool preferences ratings

## migrate: apply migrations and re-apply sql/ (EVALTOOL_DATABASE_URL or the embedded server)
migrate: install
	$(BIN)/evaltool db migrate

## refresh: refresh the materialized aggregates (schedule it: evaltool refresh --schedule)
refresh: install
	$(BIN)/evaltool refresh

## test: the whole suite, against the embedded PostgreSQL 18 and the machine's PostgreSQL 15,
## both at once (separate servers); each one's output is shown when it is done
test: install
	.ci/install-chromium
	$(MAKE) --no-print-directory -j2 --output-sync=target test-embedded test-pg15

test-embedded: install
	$(BIN)/pytest

# Its own temporary root: pytest resets the mode of /tmp/pytest-of-USER when a session
# starts, which would lock the other session's embedded servers out of their directories.
test-pg15: install
	mkdir -p -m 755 /tmp/evaltool-pg15-tests
	TMPDIR=/tmp/evaltool-pg15-tests .ci/with-pg15 $(BIN)/pytest

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
