# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SCENARIO ?= scenarios/quickstart.yaml
POLICY   ?= first-fit

.PHONY: run test lint format bench bench-quick clean help docs mlsysops-venv

help:
	@echo "make run    - set up .venv, run $(SCENARIO) with $(POLICY), print the score table"
	@echo "make test   - set up .venv with dev extras, run lint, types and the whole test suite"
	@echo "make bench  - the reference performance benchmark (make bench-quick: under a minute)"
	@echo "make docs   - build the documentation site into site/ (open site/index.html)"

$(VENV)/.base: pyproject.toml
	@echo "==> first run: creating $(VENV) and installing simcontinuum with its dependencies"
	@echo "    (simpy, numpy, pandas, pyarrow, matplotlib, pydantic, ...; about a minute, once)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> upgrading pip in $(VENV)"
	@$(BIN)/python -m pip install -q --upgrade pip
	@echo "==> installing simcontinuum (pip install -e .)"
	@$(BIN)/python -m pip install -q -e .
	@echo "==> installed; next time this step is skipped"
	@touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.base
	@echo "==> installing the dev extras (tests, lint, ML, RL, notebooks, docs): pip install -e '.[dev]'"
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

run: $(VENV)/.base
	$(BIN)/simcontinuum run $(SCENARIO) --policy $(POLICY) \
		--out out/$(basename $(notdir $(SCENARIO))) --force --report

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(VENV)/.dev
	$(BIN)/mkdocs build --strict
	@echo "documentation written to site/index.html"

bench: $(VENV)/.base
	$(BIN)/python benchmarks/run.py

bench-quick: $(VENV)/.base
	$(BIN)/python benchmarks/run.py --quick

mlsysops-venv:  # the MLSysOps framework 0.1.12 for tests/test_mlsysops_differential.py
	bash .ci/setup.d/mlsysops.sh

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .mypy_cache .ruff_cache
