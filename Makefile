# The two set-up commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install chromium demo demo-live test test-failover test-unit stack-up stop lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

# Debian's headless Chromium, for the dashboard test.
chromium:
	@command -v chromium >/dev/null || apt-get install -y -q chromium \
	  || { apt-get update -q && apt-get install -y -q chromium; } \
	  || { echo "install Debian's chromium package (the dashboard test needs it)"; exit 1; }

demo: install
	$(BIN)/streamapp demo

# The live connectors against a local server answering with real captured responses.
demo-live: install
	$(BIN)/streamapp demo --live

# Starts the stack, runs the whole suite (failover proofs included), stops the stack (also
# when tests fail).
test: install chromium
	$(BIN)/streamapp stack up
	$(BIN)/pytest -q --durations=10; status=$$?; $(BIN)/streamapp stack down; exit $$status

# Only the failover proofs (worker SIGKILL, broker restart mid replay), with their figures.
test-failover: install
	$(BIN)/streamapp stack up
	$(BIN)/pytest -q -s -m failover

test-unit: install
	$(BIN)/pytest -q -m "not integration"

stack-up: install
	$(BIN)/streamapp stack up

stop: install
	$(BIN)/streamapp stack down

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/hadolint docker/Dockerfile

# Every figure of the performance issue beside its target, also written to var/bench/
# (10–30 minutes on 2 cores; BENCH_ARGS=--quick for a short run, --help for the options).
bench: install
	$(BIN)/streamapp stack up
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .ruff_cache
