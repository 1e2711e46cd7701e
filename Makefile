# Two commands a user needs: `make repro` and `make test`. Both build .venv first (pip + venv, Python ≥ 3.10).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export WANDB_MODE ?= offline

.PHONY: repro test lint params ci ci-pipeline ci-baseline ci-calibrate bench clean-venv

$(BIN)/hebbdam: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

repro: $(BIN)/hebbdam  ## regenerate every stale figure and number (FORCE=1: all of them)
	$(BIN)/dvc repro $(if $(FORCE),--force,)

test: $(BIN)/hebbdam lint  ## lint, then the test suite (W&B disabled)
	WANDB_MODE=disabled $(BIN)/pytest -q

lint: $(BIN)/hebbdam
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

params: $(BIN)/hebbdam  ## recompose params.yaml from conf/ (e.g. make params OVERRIDES="profile=paper")
	$(BIN)/hebbdam compose $(OVERRIDES)

ci-pipeline: $(BIN)/hebbdam  ## the ci profile in a scratch copy, then the regression gate against reports/ci-baseline
	bash .ci/pipeline

ci-baseline: $(BIN)/hebbdam  ## rerun the ci profile and make its metrics the new committed baseline
	bash .ci/pipeline --refresh-baseline

# The gate's bands come from the seed-to-seed spread: the ci profile once per seed (each in a scratch copy, JOBS at a
# time) → reports/ci-baseline/spread.json. Rerun after adding a stage or changing what a stage measures, then commit.
SEEDS ?= 0 1 2 3
JOBS ?= 1
ci-calibrate: $(BIN)/hebbdam  ## measure the seed spread of every ci metric (SEEDS="0 1 2 3", JOBS=2)
	$(BIN)/hebbdam gate calibrate $(SEEDS) jobs=$(JOBS)

bench: $(BIN)/hebbdam
	$(BIN)/hebbdam bench

clean-venv:
	rm -rf $(VENV)
