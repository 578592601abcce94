# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Create the environment, seed the demo organisation and serve on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/aicoe demo

## Create the environment and run the whole test suite (one worker per core, at most four; a file's tests
## share a worker, so module fixtures such as the browser and Ray start once per file)
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

## Run the benchmarks (figures go to docs/benchmarks.md by hand)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/audit_verify.py
	$(BIN)/python bench/portfolio.py
	$(BIN)/python bench/lineage.py
	$(BIN)/python bench/sensitive_text.py
	$(BIN)/python bench/sensitive_table.py
	$(BIN)/python bench/fairness.py --fairlearn-max-rows 1000000
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/scale.py --rows 20_000_000
	$(BIN)/python bench/gateway.py --litellm-rss-requests 20000

clean:
	rm -rf $(VENV) .pytest_cache
