# `make run` starts the demo; `make test` runs the whole suite; `make bench` the headline
# benchmarks. All work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: run test system-deps bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/lintel demo

# Debian packages the integration tests start as ordinary processes.
system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v victoria-metrics >/dev/null 2>&1 || missing="$$missing victoria-metrics"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v mbpoll >/dev/null 2>&1 || missing="$$missing mbpoll"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Each test has its own time limit (pytest-timeout), and a test still running after
# faulthandler_timeout prints every thread's stack; this wall ends a hang that escapes both
# (a timeout raised inside a task that swallows it) long before CI's own limit.
# Three workers on two cores: most tests wait on brokers, databases, serial lines and Chromium,
# so the suite takes about half the serial time; a test file stays on one worker (its module
# fixtures and servers are shared by its tests). `make test PYTEST_WORKERS=` runs it serially.
# The 25 slowest tests are listed at the end: one creeping towards its time limit shows there
# before it fails on a loaded machine.
PYTEST_WORKERS ?= -n 3 --dist loadfile
test: $(STAMP) system-deps
	timeout --kill-after=30 45m $(PY) -m pytest $(PYTEST_WORKERS) --durations=25 $(PYTEST_ARGS)

# The headline set, short runs (a few minutes), printed as one table with the machine's load.
bench: $(STAMP) system-deps
	timeout --kill-after=30 20m $(PY) bench/headline.py

# Style and bugs (ruff), types (mypy, configured in pyproject.toml), and the layers of
# DESIGN.md's table (import-linter's contracts, also in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) demo-data
