# Every target that needs the environment depends on .venv/.installed, so a fresh clone just works.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
MODEL_DIR ?= models
DATASETS ?= ../shared/datasets

TRAIN_ARGS ?=

.PHONY: setup validate-data train eval eval-real lexicon-audit serve test test-fast bench soak lint retrain clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

validate-data: setup
	$(PY) -m training validate-data

train: setup
	$(PY) -m training train --model-dir $(MODEL_DIR) --datasets-dir $(DATASETS) $(TRAIN_ARGS)

eval: setup
	$(PY) -m training eval --model-dir $(MODEL_DIR)

# The real-text benchmark (R0-R5) of models/latest; table printed and written to reports/real_eval.md.
eval-real: setup $(MODEL_DIR)/latest
	$(PY) -m training eval-real --model-dir $(MODEL_DIR) --datasets-dir $(DATASETS)

# R6: every string the мат lexicon matches in the real sets, with counts (reports/lexicon_audit.tsv).
lexicon-audit: setup
	$(PY) -m training lexicon-audit --datasets-dir $(DATASETS)

$(MODEL_DIR)/latest:
	$(MAKE) train

serve: setup $(MODEL_DIR)/latest
	MODEL_DIR=$(MODEL_DIR) HOST=$(HOST) PORT=$(PORT) $(PY) -m service

test: setup
	$(PY) -m pytest

bench: setup $(MODEL_DIR)/latest
	$(PY) -m bench

soak: setup $(MODEL_DIR)/latest
	$(PY) -m bench.soak

# Style, formatting, the import contracts (pyproject.toml [tool.importlinter]) and types, all must pass.
lint: setup
	$(PY) -m ruff check training service tests bench
	$(PY) -m ruff format --check training service tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

# The tests that need neither the trained session model nor a server nor a browser (under a minute).
test-fast: setup
	$(PY) -m pytest -m "not slow"

retrain: setup
	$(PY) -m training retrain --model-dir $(MODEL_DIR)

clean:
	rm -rf $(VENV) mlruns mlflow.db .pytest_cache

# The database tests (marker `db`: feedback and inbox stores on SQLite and a real PostgreSQL) against a
# throw-away cluster on a free local port (tests/pg_cluster.py); installs Debian's postgresql when its binaries
# are missing. The end-to-end one trains the session model unless TRIAGE_TEST_MODEL_DIR names a bundle.
.PHONY: test-pg
test-pg: setup
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	$(PY) tests/pg_cluster.py -- $(PY) -m pytest -m db

# Archive scoring on Spark: a CSV or Parquet file of comments -> Parquet with every result field, scored by the
# logged MLflow model (default: the `champion` alias) through mlflow.pyfunc.spark_udf. Installs pyspark into
# the venv and Java (scripts/ensure_java.sh) when missing. MASTER=spark://host:7077 runs the same job on a cluster.
#   make spark-score IN=data/comments.csv OUT=/tmp/scored.parquet [MASTER=local[2]] [MODEL_URI=models:/comment-triage/3]
MASTER ?= local[*]
MODEL_URI ?= models:/comment-triage@champion
SPARK_ARGS ?=
.PHONY: spark-score
spark-score: setup
	@test -n "$(IN)" && test -n "$(OUT)" || { echo "usage: make spark-score IN=comments.csv OUT=scored.parquet [MASTER=local[*]] [MODEL_URI=...] [SPARK_ARGS=--overwrite]"; exit 2; }
	@$(PY) -c 'import pyspark' 2>/dev/null || $(PY) -m pip install --quiet 'pyspark>=4.3,<5'
	@bash scripts/ensure_java.sh
	$(PY) -m training.jobs.spark_score --input '$(IN)' --output '$(OUT)' --master '$(MASTER)' --model-uri '$(MODEL_URI)' $(SPARK_ARGS)
