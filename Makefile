# Two commands: `make run` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
PORT ?= 8000

.PHONY: run test setup lint format bench stop-db clean-data

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	PORT=$(PORT) $(PY) manage.py devserver --port $(PORT)

test: setup
	$(PY) -m pytest $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) bench/create_practice.py

# Stops the embedded PostgreSQL if a standalone manage.py command left it running.
stop-db: setup
	$(PY) -m config.embedded_db stop

# Deletes the embedded database (all local data) and uploaded files.
clean-data: stop-db
	rm -rf .data
