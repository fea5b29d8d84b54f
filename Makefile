# Two commands for everyone: `make book` and `make test`.
# Both create the virtual environment .venv on first use and install requirements.txt into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book pdf test venv bench clean

$(STAMP): requirements.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' || { echo "Python 3.11 or newer is needed; found $$($(PYTHON) --version)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

venv: $(STAMP)

## make book: execute the country chapters that changed and build the handbook in _build/html
book: $(STAMP)
	$(BIN)/iff build

## make pdf: the PDF edition (_build/pdf/handbook.pdf), printed offline by headless Chromium
pdf: book
	$(BIN)/iff pdf

## make test: the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

## make bench: build times, rebuild times and Monte Carlo speed (see README)
bench: $(STAMP)
	$(BIN)/iff bench

clean:
	rm -rf _build book/_toc.yml book/countries book/results book/reference/inputs.md book/reference/inputs book/reference/schema.md book/_extra/downloads
