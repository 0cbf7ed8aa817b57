# The two set-up commands in the README are `make demo` and `make test`.
# Each creates .venv with the interpreter in PYTHON (3.11+) and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs tacit and runs its main job.
demo: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/tacit walkthrough

# Installs the test dependencies and runs the whole suite.
test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/python -m pytest

bench: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/python bench/retrieval.py --n 100000 --json

clean:
	rm -rf $(VENV) build *.egg-info
