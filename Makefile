# The two commands a new user needs: `make demo` and `make test`.
# Both install what they need on first use and are quick the second time: the virtual
# environment is rebuilt only when pyproject.toml changes, and the local OpenSearch node
# only when engine/ changes (Maven keeps the downloaded jars in ~/.m2).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test install engine system-deps stop clean

demo: engine
	$(BIN)/lookalike demo

test: engine
	$(BIN)/pytest $(PYTEST_ARGS)

install: system-deps $(VENV)/.installed

system-deps:
	@scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==25.0.1
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

engine: install
	$(BIN)/lookalike engine build

stop:
	-$(BIN)/lookalike engine stop
	-$(BIN)/lookalike broker stop

clean: stop
	rm -rf $(VENV) engine/target .lookalike
