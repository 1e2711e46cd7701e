# Two commands a user needs: `make repro` and `make test`. Both build .venv first (pip + venv, Python ≥ 3.10).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export WANDB_MODE ?= offline

.PHONY: repro paper paper-params paper-status test lint lock params stages ci ci-pipeline ci-baseline ci-calibrate bench device-wheels clean-venv

# Exact versions from requirements.lock (`make lock` rewrites it from the current venv), then hebbdam itself.
$(BIN)/hebbdam: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e '.[dev]'
	mkdir -p data/raw data/processed  # so `dvc repro --dry` works on a fresh clone (DVC hashes missing deps: dvc#9818)
	touch $@

# the W&B group shared by every stage of one `make repro` (dvc exp run names its own: DVC_EXP_NAME)
repro: export HEBBDAM_RUN_GROUP ?= repro-$(shell date -u +%Y%m%d-%H%M%S)
repro: $(BIN)/hebbdam  ## regenerate every stale figure and number (FORCE=1: all of them)
	$(BIN)/dvc repro $(if $(FORCE),--force,)

# The paper profile is a DVC project of its own (reports/paper: its dvc.yaml, params.yaml, dvc.lock and results), so
# `make repro` and every dvc command at the root never see it; these run it (GPU-sized: not on a laptop).
paper: export HEBBDAM_RUN_GROUP ?= paper-$(shell date -u +%Y%m%d-%H%M%S)
paper: $(BIN)/hebbdam  ## the paper pipeline: `dvc repro` in reports/paper (FORCE=1: all of it); results there
	cd reports/paper && $(abspath $(BIN))/dvc repro $(if $(FORCE),--force,)

paper-status: $(BIN)/hebbdam  ## which paper stages are stale (`dvc status` in reports/paper)
	cd reports/paper && $(abspath $(BIN))/dvc status

paper-params: $(BIN)/hebbdam  ## recompose reports/paper/params.yaml from conf/paper.yaml; OVERRIDES kept, RESET=1 forgets
	$(BIN)/hebbdam compose --pipeline paper $(if $(RESET),--reset,) $(OVERRIDES)

test: $(BIN)/hebbdam lint  ## lint (ruff, mypy), then the test suite (W&B disabled)
	WANDB_MODE=disabled $(BIN)/pytest -q

lint: $(BIN)/hebbdam  ## ruff, then mypy over src/ (settings: [tool.mypy] in pyproject.toml; zero errors)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

# Linux-only CUDA wheels that the PyPI torch pulls in are marked so, so the lock also installs on macOS (CPU torch).
lock: $(BIN)/hebbdam  ## rewrite requirements.lock from the venv (after changing a requirement in pyproject.toml)
	$(BIN)/pip freeze --exclude-editable | sed -E 's/^((nvidia-|triton)[^ ]*)$$/\1 ; sys_platform == "linux"/' > requirements.lock

params: $(BIN)/hebbdam  ## recompose params.yaml; OVERRIDES="profile=ci" is kept for later dvc exp run; RESET=1 forgets it
	$(BIN)/hebbdam compose $(if $(RESET),--reset,) $(OVERRIDES)

stages: $(BIN)/hebbdam  ## after adding or changing a stage or its imports: both dvc.yaml files and both params files
	$(BIN)/hebbdam dvc-yaml
	$(BIN)/hebbdam compose $(OVERRIDES)
	$(BIN)/hebbdam compose --pipeline paper

ci:  ## what CI runs (.ci/run): make test, the ci profile gated at two seeds, the planted-break suite
	bash .ci/run

ci-pipeline: $(BIN)/hebbdam  ## the ci profile in a scratch copy, then the regression gate against reports/ci-baseline
	bash .ci/pipeline

ci-baseline: $(BIN)/hebbdam  ## rerun the ci profile and make its metrics the new committed baseline
	bash .ci/pipeline --refresh-baseline

# Wheels a GPU machine without network lacks (it has torch, Lightning, torchvision, scipy, sklearn, matplotlib):
# hydra-core, omegaconf, antlr4 and mlxtend at the versions of this venv, and hebbdam itself, all pure Python.
# There: pip install --no-index --no-deps --target /tmp/site .whl/*.whl && PYTHONPATH=/tmp/site \
#   WANDB_MODE=disabled python -m hebbdam.cli run-pipeline   (stages in dvc.yaml order, no DVC needed)
DEVICE_WHEELS := hydra-core|omegaconf|antlr4-python3-runtime|mlxtend
device-wheels: $(BIN)/hebbdam
	rm -rf .whl && mkdir -p .whl
	$(BIN)/pip wheel --quiet --no-deps -w .whl . $$($(BIN)/pip freeze | grep -iE '^($(DEVICE_WHEELS))==')
	ls -l .whl

# The gate's bands come from the seed-to-seed spread: the ci profile once per seed (each in a scratch copy, JOBS at a
# time) → reports/ci-baseline/spread.json. Rerun after adding a stage or changing what a stage measures, then commit.
SEEDS ?= 0 1 2 3 4
JOBS ?= 2
ci-calibrate: $(BIN)/hebbdam  ## measure the seed spread of every ci metric (SEEDS="0 1 2 3 4", JOBS=2; resumes)
	$(BIN)/hebbdam gate calibrate $(SEEDS) jobs=$(JOBS)

bench: $(BIN)/hebbdam
	$(BIN)/hebbdam bench

clean-venv:
	rm -rf $(VENV)
