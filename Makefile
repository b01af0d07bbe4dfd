# The two set-up commands of the README. Each installs what it needs into .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false

.PHONY: demo test test-fast mutation lint format bench bench-containerize bench-smoke bench-first-hour docs clean

# uv from PATH; on a machine without it, pip puts the pinned uv into the venv first (the one pip download).
SYSTEM_UV := $(shell command -v uv 2>/dev/null)
UV := $(or $(SYSTEM_UV),$(BIN)/uv)
define make-venv
	test -x $(BIN)/python || $(if $(SYSTEM_UV),uv venv --quiet --python $(PYTHON),$(PYTHON) -m venv) $(VENV)
	test -x $(UV) || $(BIN)/python -m pip install --quiet -c constraints.txt uv
endef

# The demo needs the template's pipeline and cookiecutter only. A venv made by `make test` has all of it already,
# so the install below then only checks (a venv from before this stamp existed keeps working).
$(VENV)/.demo-installed: pyproject.toml constraints.txt
	$(make-venv)
	@# pip: MLflow records its version in each model's environment, as it does in a baked repo's venv.
	$(UV) pip install --quiet --python $(BIN)/python -c constraints.txt pip -e '.[demo]'
	touch $@

$(VENV)/.installed: pyproject.toml constraints.txt
	$(make-venv)
	@# The setup action builds modelrail without build isolation in this environment (setuptools), and the
	@# containerize wheelhouse is downloaded with this venv's pip. Bytecode now (30 s once): where
	@# PYTHONDONTWRITEBYTECODE is set, every process the tests start would otherwise compile MLflow, GX and pandas
	@# from source again (12 s instead of 5 s for their imports here).
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt pip setuptools -e '.[dev]'
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/python scripts/demo.py build/demo

test: $(VENV)/.installed
	@# The guide's browser test needs Chromium: the Debian package, installed when absent as infra/ installs Docker.
	command -v chromium > /dev/null || [ "$$(id -u)" != 0 ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium > /dev/null; }
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# Everything but the slow families (template bakes, the Docker engine, act end-to-end runs, other services): for the
# edit loop.
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not bake and not docker and not act and not services and not subprocess"

# Mutation testing of the guarantee modules against the fast tests (slow: not in CI). MUTANTS narrows it, e.g.
# `make mutation MUTANTS='modelrail.gates.champion*'`. Prints the score and every surviving mutant; docs/testing.md.
mutation: $(VENV)/.installed
	$(UV) pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,mutation]'
	rm -rf mutants
	$(BIN)/mutmut run $(MUTANTS) || true
	$(BIN)/python scripts/mutation_report.py

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

bench-first-hour: $(VENV)/.installed
	$(BIN)/python benchmarks/first_hour.py

clean:
	rm -rf build site $(VENV)
