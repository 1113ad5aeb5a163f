# Two commands: `make run` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
PORT ?= 8000

.PHONY: run test setup browser lint format bench bench-dashboard bench-pos bench-import stop-db clean-data

# The settings are production-safe by default (DEBUG off, refusing to start without SECRET_KEY, SMS_BACKEND
# and EMAIL_URL); these development targets turn DEBUG on unless the environment already says otherwise.
run test bench bench-dashboard bench-pos bench-import: export DEBUG ?= true

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	PORT=$(PORT) $(PY) manage.py devserver --port $(PORT)

test: setup browser
	$(PY) -m pytest $(ARGS)

# The browser tests (tests/e2e) drive Debian's Chromium; Playwright never downloads a browser of its own.
# Installs it when missing and possible (root or passwordless sudo); otherwise those tests are skipped.
browser:
	@if [ -n "$$CHROMIUM_PATH" ] && [ -x "$$CHROMIUM_PATH" ] || command -v chromium >/dev/null 2>&1; then \
		:; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "Chromium not found (set CHROMIUM_PATH to use another one): browser tests (tests/e2e) will be skipped."; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Chromium for the browser tests (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		echo "Installing Chromium for the browser tests (sudo apt-get)"; \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else \
		echo "Chromium not found and installing it needs root (apt-get install chromium): browser tests (tests/e2e) will be skipped."; \
	fi

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Benchmarks (bench/README.md): ARGS=--smoke runs any of them at a few rows in seconds, as the tests do.
bench: setup
	$(PY) bench/create_practice.py $(ARGS)

# The analytics dashboard at 50,000 patients and a million ledger entries (bench/README.md).
bench-dashboard: setup
	$(PY) bench/dashboard.py $(ARGS)

# Purchases posted to the POS API by gunicorn on loopback, one a request then POS_BATCH a request, against plain SQL.
POS_BATCH ?= 500
bench-pos: setup
	$(PY) bench/pos_ingest.py --batch $(POS_BATCH) $(ARGS)

# A year of purchase history (60,000 purchases, 5,000 patients) through the staff CSV import's service.
bench-import: setup
	$(PY) bench/purchase_import.py $(ARGS)

# Stops the embedded PostgreSQL if a standalone manage.py command left it running.
stop-db: setup
	$(PY) -m config.embedded_db stop

# Deletes the embedded database (all local data) and uploaded files.
clean-data: stop-db
	rm -rf .data
