# The two commands: `make demo` and `make test`. Both do every set-up step themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DURATION ?= 60
PYTEST_ARGS ?=

.PHONY: install system-deps test demo lint bench soak clean

# The broker's jars from Maven Central (cached: no download once fetched); names the broker.
install: system-deps $(STAMP)
	@$(BIN)/bordersync dev fetch

system-deps:
	@bash deploy/scripts/system-deps.sh

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: install
	$(BIN)/bordersync demo --duration $(DURATION)

bench: install
	$(BIN)/bordersync bench --json

soak: install
	$(BIN)/bordersync soak --faults 50

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	-$(BIN)/bordersync dev down
	rm -rf $(VENV) .bordersync .pytest_cache .mypy_cache .ruff_cache
