# One command per job. Everything is built from the lock files in requirements/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAYER_VENV := .venv-layer
CLIENT_VENVS := .venv-clients-wrangler .venv-clients-dbt
UV_VERSION := 0.13.9
STACK ?= etl
TARGET ?= local
# make lab: PORT=8890 (default: the first free port from 8888), NO_BROWSER=1, ENDPOINT=<a running localaws>,
# YES=1 (TARGET=aws: provision a missing stack without asking).
PORT ?=
NO_BROWSER ?=
ENDPOINT ?=
YES ?=

.PHONY: help env test test-fast test-layer test-clients clients lint format bench bench-burst demo localaws lab html screenshots clean

help:
	@echo "make demo      run the whole pipeline on localaws (the embedded local AWS) and query it"
	@echo "make test      build the environment from the lock file and run every test"
	@echo "make lab       open the notebooks in JupyterLab (TARGET=aws for your AWS account; PORT=, NO_BROWSER=1)"
	@echo "make html      render every notebook to HTML (build/html/); make screenshots photographs them"
	@echo "make localaws  serve the local AWS endpoint on 127.0.0.1:4566"
	@echo "make bench     measure the transform against the naive pandas baseline"
	@echo "make bench-burst  a burst of FILES (default 1000) small files through localaws, measured end to end"

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: requirements/lock.txt pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements/lock.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

env: $(VENV)/.synced

$(LAYER_VENV)/.synced: requirements/layer-lock.txt | $(BIN)/uv
	$(BIN)/uv venv --quiet --allow-existing --python $(BIN)/python $(LAYER_VENV)
	$(BIN)/uv pip sync --quiet --python $(LAYER_VENV)/bin/python requirements/layer-lock.txt
	@touch $@

test: env $(LAYER_VENV)/.synced clients lint
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-layer

# The transform and handler tests again, on the Lambda layer's pandas 2.x / pyarrow, with only the codecs the layer's
# pyarrow was built with (localaws/lambda_runtime/aws_sdk_pandas_layer.json).
test-layer: $(LAYER_VENV)/.synced
	LAMBDA_LAYER_PYARROW=1 PYTHONPATH=. $(LAYER_VENV)/bin/python -m pytest -m layer -p no:cacheprovider -o addopts="-ra" tests/pipeline

# Each Athena client in its own environment, from its lock (requirements/clients-*.in): tests/clients runs them.
.venv-clients-%/.synced: requirements/clients-%-lock.txt | $(BIN)/uv
	$(BIN)/uv venv --quiet --allow-existing --python $(BIN)/python .venv-clients-$*
	$(BIN)/uv pip sync --quiet --python .venv-clients-$*/bin/python requirements/clients-$*-lock.txt
	@touch $@

clients: $(addsuffix /.synced,$(CLIENT_VENVS))

# awswrangler, SQLAlchemy (pyathena) and a dbt-athena project against localaws; `make test` runs them too.
test-clients: env clients
	$(BIN)/python -m pytest -m clients tests/clients

test-fast: env
	$(BIN)/python -m pytest -m "not slow and not localaws"

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: env
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: env
	$(BIN)/python benchmarks/transform.py

# FILES=200 for a shorter run; the table is appended to benchmarks/burst-results.md.
FILES ?= 1000
bench-burst: env
	$(BIN)/python benchmarks/burst.py --files $(FILES) --record

demo: env
	$(BIN)/python -m kit.demo --stack $(STACK)

localaws: env
	$(BIN)/python -m localaws

lab: env
	$(BIN)/python -m kit.lab --stack $(STACK) --target $(TARGET) $(if $(PORT),--port $(PORT)) \
		$(if $(NO_BROWSER),--no-browser) $(if $(ENDPOINT),--endpoint $(ENDPOINT)) $(if $(YES),--yes)

# Every notebook executed against a fresh localaws and rendered to build/html/ (notebooks/ keeps no outputs).
html: env
	$(BIN)/python -m kit.render

# A 1,280 px wide, full-page PNG of each rendered notebook in build/screenshots/ (needs Debian's chromium).
screenshots: env
	$(BIN)/python -m kit.screenshots

clean:
	rm -rf $(VENV) $(LAYER_VENV) $(CLIENT_VENVS) .stacks .pytest_cache build
