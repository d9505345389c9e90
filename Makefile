# Set-up and the two main jobs. `make run` and `make test` each create the
# virtual environment (.venv) on first use, so a fresh machine needs nothing else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-quick benchmark report clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## the default benchmark: every built-in strategy on imdb and spam
	$(BIN)/bench run --tasks imdb spam

test: $(STAMP)  ## the whole suite, slow end-to-end cases included (what CI runs)
	$(BIN)/python -m pytest

test-quick: $(STAMP)  ## the suite without the slow end-to-end cases
	$(BIN)/python -m pytest -m "not slow"

report: $(STAMP)
	$(BIN)/bench report

clean:
	rm -rf $(VENV) build *.egg-info
