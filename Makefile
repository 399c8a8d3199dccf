# Everyday commands. `make run` and `make test` work on a fresh clone with only Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the dependency list changes.
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint format docs setup migrate worker web clean train evaluate bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

# The docs extra on top of the venv; again whenever the venv is reinstalled.
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -e '.[docs]'
	touch $(DOCS_STAMP)

# Venv, database schema, demo login and the shipped model (when present).
setup: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py setup_demo
	$(BIN)/python manage.py register_model --shipped --activate

# Web server on 127.0.0.1:8000 plus a Celery worker on both queues; Ctrl-C stops both.
run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/run-dev

test: $(STAMP)
	$(BIN)/python -m pytest

# The inner loop: stops at the first failure and leaves out the slow tests (live workers,
# browsers, fault injection, end-to-end runs: `make test` runs them).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -x -q -m "not slow" --ignore=tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

# The documentation site into var/site/, offline; --strict fails on any warning (a broken link).
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir var/site

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var/broker var/media var/db.sqlite3 .pytest_cache .ruff_cache

# --- model and benchmarks (need FER_DATA_DIR with fer2013.tar.gz) ------------------------------
FER_DATA_DIR ?= ../shared/datasets
TRAIN_CONFIG ?= cpu-small
TRAIN_OUT ?= runs/$(TRAIN_CONFIG)
# Named once, in ml/__init__.py; read when a recipe runs, after .venv exists.
SHIPPED ?= $(shell $(BIN)/python -c "import ml; print(ml.SHIPPED_MODEL_DIR)")

train: $(STAMP)
	$(BIN)/python -m ml.cli.train --data $(FER_DATA_DIR)/fer2013.tar.gz --config $(TRAIN_CONFIG) \
		--out $(TRAIN_OUT) --seed 1 --resume

evaluate: $(STAMP)
	$(BIN)/python -m ml.cli.evaluate --model $(SHIPPED) --data $(FER_DATA_DIR)/fer2013.tar.gz \
		--split PrivateTest --json var/evaluation.json

# Classifier alone (export measures Keras against TFLite) and the whole pipeline on photos.
bench: $(STAMP)
	$(BIN)/python -m ml.cli.export --model $(SHIPPED) --check-only
	$(BIN)/python -m benchmarks.pipeline --images $(FER_DATA_DIR)/sample-photos
