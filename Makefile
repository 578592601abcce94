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

## Create the environment and run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

## Run the benchmarks (figures go to docs/benchmarks.md by hand)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/audit_verify.py
	$(BIN)/python bench/portfolio.py
	$(BIN)/python bench/lineage.py
	$(BIN)/python bench/sensitive_text.py
	$(BIN)/python bench/sensitive_table.py

clean:
	rm -rf $(VENV) .pytest_cache
