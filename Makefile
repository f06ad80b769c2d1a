# The course's two commands: `make lab` (start the lab) and `make test` (run every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: lab test lint release bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## Start the registry and open JupyterLab on your copies of the lessons, my-course/00-setup.ipynb (Ctrl-C stops
## JupyterLab). Instructors: `make lab SOLUTIONS=1` serves notebooks/, the answer key, instead.
lab: $(VENV)/.installed
	$(BIN)/labsupport lab $(if $(SOLUTIONS),--solutions)

## Run every test: unit, integration on the real engine and registry, notebooks, browser.
test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The layering and the code's shape: import-linter's contracts, mypy, ruff (docs/architecture.md).
lint: $(VENV)/.installed
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/ruff check labsupport tests bench scripts

## Write the learner notebooks (solutions replaced by stubs) into released/.
release: $(VENV)/.installed
	$(BIN)/labsupport release --out released

## Print the benchmarks' figures.
bench: $(VENV)/.installed
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean-venv:
	rm -rf $(VENV)
