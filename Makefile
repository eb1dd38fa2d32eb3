# The two commands of the README: `make demo` and `make test`.
# Everything they need is installed here, from PyPI and npm.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SAO_VERSION := 8.0.11
SAO := .cache/sao
ACCOUNTS ?= 2000
PG_URI ?= postgresql://postgres@127.0.0.1:5432/

.PHONY: demo test test-sqlite lint bench-small clean

$(BIN)/rkc: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(SAO)/index.html: $(BIN)/rkc
	mkdir -p .cache
	cd .cache && npm pack -q tryton-sao@$(SAO_VERSION) && \
		rm -rf sao package && tar xzf tryton-sao-$(SAO_VERSION).tgz && \
		mv package sao && rm tryton-sao-$(SAO_VERSION).tgz
	cd $(SAO) && npm install -q --omit=dev --legacy-peer-deps
	$(BIN)/python tools/translations.py sao
	touch $@

demo: $(BIN)/rkc $(SAO)/index.html
	$(BIN)/rkc demo --accounts $(ACCOUNTS)

# The whole suite against PostgreSQL (and the real Redis, pymodbus servers
# and headless Chromium the tests start).
test: $(BIN)/rkc $(SAO)/index.html
	$(BIN)/ruff check rkc rkc_utilities tests bench tools
	$(BIN)/python tools/drop_test_cache.py $(PG_URI)
	TRYTOND_DATABASE_URI=$(PG_URI) DB_CACHE=postgresql:// RKC_DEMO_CACHE=1 \
		$(BIN)/python -m pytest -q -p no:cacheprovider

# Quick run of the same suite on SQLite.
test-sqlite: $(BIN)/rkc $(SAO)/index.html
	TRYTOND_DATABASE_URI=sqlite:// DB_NAME=:memory: \
		$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(BIN)/rkc
	$(BIN)/ruff check rkc rkc_utilities tests bench tools

clean:
	rm -rf var .pytest_cache
