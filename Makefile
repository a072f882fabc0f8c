# Two commands a user needs: `make demo` and `make test`. Each sets up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow bench lint clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/identify demo

# the report's browser test renders HTML in Debian's Chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing Debian's chromium for the report's browser test (needs root)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# one pytest worker per logical core (pytest-xdist); the slow tests stay serial, they start
# their own process pools
test: $(STAMP) chromium
	$(BIN)/python -m pytest -m "not slow" -q -n logical

test-slow: $(STAMP) chromium
	$(BIN)/python -m pytest -m slow -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_check.py
	$(BIN)/python benchmarks/bench_fit.py

lint: $(STAMP)
	$(BIN)/ruff check identify benchmarks tests

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
