# Two commands a user needs: `make repro` and `make test`. Both build .venv first (pip + venv, Python ≥ 3.10).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export WANDB_MODE ?= offline

.PHONY: repro test lint params stages ci ci-pipeline ci-baseline bench clean-venv

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

stages: $(BIN)/hebbdam  ## after adding or changing a stage in src/hebbdam/stages.py or its imports: dvc.yaml + params.yaml
	$(BIN)/hebbdam dvc-yaml
	$(BIN)/hebbdam compose $(OVERRIDES)

ci-pipeline: $(BIN)/hebbdam  ## the ci profile in a scratch copy, then the regression gate against reports/ci-baseline
	bash .ci/pipeline

ci-baseline: $(BIN)/hebbdam  ## rerun the ci profile and make its metrics the new committed baseline
	bash .ci/pipeline --refresh-baseline

bench: $(BIN)/hebbdam
	$(BIN)/hebbdam bench

clean-venv:
	rm -rf $(VENV)
