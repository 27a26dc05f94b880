# The two set-up commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install compile chromium demo demo-live test test-failover test-unit stack-up stop lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

# The modules every event goes through, compiled by Cython into build/compiled and used
# while they match their sources (tables/compiled.py); without a C compiler, plain Python.
COMPILED := build/compiled/tables/manifest.json

compile: $(COMPILED)

$(COMPILED): $(STAMP) $(wildcard tables/*.py)
	$(BIN)/python -c 'import tables.compiled; tables.compiled.main()'

# Debian's headless Chromium, for the dashboard test.
chromium:
	@command -v chromium >/dev/null || apt-get install -y -q chromium \
	  || { apt-get update -q && apt-get install -y -q chromium; } \
	  || { echo "install Debian's chromium package (the dashboard test needs it)"; exit 1; }

demo: install compile
	$(BIN)/streamapp demo

# The live connectors against a local server answering with real captured responses.
demo-live: install compile
	$(BIN)/streamapp demo --live

# Starts the stack, runs the whole suite (failover proofs included), stops the stack (also
# when tests fail).
test: install chromium compile
	$(BIN)/streamapp stack up
	$(BIN)/pytest -q --durations=10; status=$$?; $(BIN)/streamapp stack down; exit $$status

# Only the failover proofs (worker SIGKILL, broker restart mid replay), with their figures.
test-failover: install compile
	$(BIN)/streamapp stack up
	$(BIN)/pytest -q -s -m failover

test-unit: install compile
	$(BIN)/pytest -q -m "not integration"

stack-up: install
	$(BIN)/streamapp stack up

stop: install
	$(BIN)/streamapp stack down

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/hadolint docker/Dockerfile

# Every figure of the performance issue beside its target, also written to var/bench/
# (10–30 minutes on 2 cores; BENCH_ARGS=--quick for a short run, --help for the options).
bench: install compile
	$(BIN)/streamapp stack up
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf var build .pytest_cache .ruff_cache
