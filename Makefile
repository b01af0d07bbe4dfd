# The two set-up commands of the README. Each installs what it needs into .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false

.PHONY: demo test lint format bench bench-containerize bench-smoke docs clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	@# The setup action builds modelrail without build isolation in this environment: it needs a current setuptools.
	$(BIN)/python -m pip install --quiet -c constraints.txt --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python scripts/demo.py build/demo

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(VENV)/.installed
	$(BIN)/mkdocs build --strict

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/foundation.py

bench-containerize: $(VENV)/.installed
	$(BIN)/python benchmarks/containerize.py

bench-smoke: $(VENV)/.installed
	$(BIN)/python benchmarks/smoke.py

clean:
	rm -rf build site $(VENV)
