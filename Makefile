# Tagspace: `make run` sets up and serves the app on the demo workspace,
# `make test` sets up and runs the whole test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
# Interface the app listens on: this machine only, unless told otherwise (HOST=0.0.0.0 serves every network).
HOST   ?= localhost
# Empty means the default workspace ($$TAGSPACE_WORKSPACE or ~/.cache/tagspace/demo).
WORKSPACE ?=
WS_ARG := $(if $(WORKSPACE),--workspace $(WORKSPACE),)

.PHONY: install test-deps postgres-deps demo run test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	# tinysoundfont declares pyaudio (live playback only; no wheel, does not build).
	$(BIN)/python -m pip install --no-deps tinysoundfont==0.3.7
	touch $@

test-deps: $(VENV)/.installed-test postgres-deps

# The listening-test suite also runs on PostgreSQL: tests/postgres_support.py starts a throwaway
# server (initdb in /tmp, unix socket only, as the unprivileged postgres user). Checked on every run.
postgres-deps:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "postgresql: found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
		|| echo "installing postgresql failed: PostgreSQL tests will be skipped"; \
	else echo "postgresql is missing and we are not root: PostgreSQL tests will be skipped"; fi

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(BIN)/python -m pip install -r requirements-test.txt
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "chromium is missing and we are not root: browser tests will be skipped"; fi
	touch $@

demo: install
	$(BIN)/python -m core build-demo $(WS_ARG)

# The app comes up at once; the demo builds in the background meanwhile (nothing to do when built).
# Home shows the build's progress and each page lights up when the steps it needs are done.
run: install
	$(BIN)/python -m core build-demo --background $(WS_ARG)
	$(BIN)/python -m streamlit run app.py --server.address $(HOST) --server.port $(PORT) --server.headless true -- $(WS_ARG)

test: test-deps
	$(BIN)/python -m pytest

# bench_seeds.py trains models for many minutes: run it by hand (README, "Results on the default demo").
bench: install
	for b in bench/bench_*.py; do [ "$$b" = bench/bench_seeds.py ] && continue; \
		echo "== $$b"; $(BIN)/python $$b || exit 1; done
	$(BIN)/python bench/summary.py --readme

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
