# The two commands of the README:
#   make demo   the example store, a qcluster, and a webhook delivering to a demo receiver
#   make test   the whole test suite: SQLite + ORM broker, then PostgreSQL + Redis, then Oscar
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres test-oscar test-django61 lint typecheck bench tox clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(INSTALLED)
	$(PY) manage.py demo

test: test-sqlite test-postgres test-oscar

test-sqlite: $(INSTALLED)
	$(PY) -m pytest

# The scale-out deployment; skips with a reason when the services are down (fails under CI=true).
test-postgres: $(INSTALLED)
	WEBHOOKS_TEST_DEPLOYMENT=postgres $(PY) -m pytest -m "not browser"

# A real django-oscar shop (docs/recipes/oscar.md) on settings of its own, a run of its own;
# skips without django-oscar (fails under CI=true).
test-oscar: $(INSTALLED)
	$(PY) -m pytest -p tests.oscar.plugin tests/oscar

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy with django-stubs and djangorestframework-stubs over the package ([tool.mypy]).
typecheck: $(INSTALLED)
	$(VENV)/bin/mypy

# The benchmark of issue 6 (docs/performance.md): both deployments, full sizes, ~15 min on 2 cores.
# BENCH_ARGS="--deployment sqlite --quick" for a short run.
bench: $(INSTALLED)
	$(PY) bench/run.py $(BENCH_ARGS)

# The newest pair the issues ask for: Python 3.12+ with Django 6.1 (SQLite and PostgreSQL).
test-django61: $(INSTALLED)
	$(VENV)/bin/tox -e py313-django61-sqlite,py313-django61-postgres

tox: $(INSTALLED)
	$(VENV)/bin/tox

clean:
	rm -rf $(VENV) .tox .mypy_cache example_project/db.sqlite3*
