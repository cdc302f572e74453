# Two commands on a fresh machine: `make run` and `make test`. Both build .venv themselves.
# LinkFlow runs on Python 3.11 to 3.13: the first of python3.13, python3.12, python3.11 and
# python3 whose version is in that range builds .venv; `make PYTHON=/path/to/python` picks one.
SUPPORTED := 3.11 3.12 3.13
IN_RANGE = import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PYTHON ?= $(firstword $(foreach py,python3.13 python3.12 python3.11 python3,\
	$(if $(shell command -v $(py) >/dev/null 2>&1 && $(py) -c '$(IN_RANGE)' 2>/dev/null && echo ok),$(py))))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench up clean

# requirements.lock pins every package, transitive ones included; the project itself is
# installed editable without dependencies so its entry points are registered.
$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "LinkFlow needs Python 3.11, 3.12 or 3.13 (none of" \
	  "python3.13, python3.12, python3.11, python3 on PATH is one). Install one (e.g." \
	  "apt-get install python3.12-venv) or run: make PYTHON=/path/to/python3.12"; exit 1; }
	@$(PYTHON) -c '$(IN_RANGE)' 2>/dev/null || { echo "PYTHON=$(PYTHON) is not Python" \
	  "3.11 to 3.13 (it is $$($(PYTHON) --version 2>&1)); LinkFlow needs one of $(SUPPORTED)."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy .
	$(BIN)/python bin/type-ignore-ceiling
	$(BIN)/python manage.py makemigrations --check --dry-run

# The three Procfile roles (web, worker, beat) as separate processes on the local
# PostgreSQL and Redis (DATABASE_URL, REDIS_URL override): the distributed mode in one
# command, through honcho. Ctrl-C stops them all.
up: $(STAMP)
	bin/up

bench: $(STAMP)
	$(BIN)/python bench/executions.py

clean:
	rm -rf $(VENV) var
