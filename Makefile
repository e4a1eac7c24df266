# The two commands of the README:
#   make demo   the example store, a qcluster, and a webhook delivering to a demo receiver
#   make test   the whole test suite: SQLite + ORM broker, then PostgreSQL + Redis, then Oscar
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# make test runs each suite under coverage.py ([tool.coverage] in pyproject.toml: branches,
# the qcluster subprocesses and their forked workers included) and ends with the combined
# figure; COVERAGE=0 runs plain pytest. The data and the HTML report: test-artifacts/coverage/.
COVERAGE ?= 1
COVERAGE_DIR := $(CURDIR)/test-artifacts/coverage
COV := COVERAGE_FILE=$(COVERAGE_DIR)/.coverage $(PY) -m coverage
PYTEST := $(if $(filter 1,$(COVERAGE)),$(COV) run -m pytest,$(PY) -m pytest)

.PHONY: demo test test-sqlite test-postgres test-oscar test-django61 lint typecheck bench tox clean
.PHONY: coverage-erase coverage-report coverage-html docs docs-serve release-check

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(INSTALLED)
	$(PY) manage.py demo

test: coverage-erase test-sqlite test-postgres test-oscar coverage-report

test-sqlite: $(INSTALLED)
	$(PYTEST)

# The scale-out deployment; skips with a reason when the services are down (fails under CI=true).
test-postgres: $(INSTALLED)
	WEBHOOKS_TEST_DEPLOYMENT=postgres $(PYTEST) -m "not browser"

# A real django-oscar shop (docs/recipes/oscar.md) on settings of its own, a run of its own;
# skips without django-oscar (fails under CI=true).
test-oscar: $(INSTALLED)
	$(PYTEST) -p tests.oscar.plugin tests/oscar

coverage-erase: $(INSTALLED)
	$(if $(filter 1,$(COVERAGE)),rm -rf $(COVERAGE_DIR) && mkdir -p $(COVERAGE_DIR))

# The combined figure of the runs since coverage-erase; below the floor (fail_under in
# pyproject.toml) it fails.
coverage-report: $(INSTALLED)
	$(if $(filter 1,$(COVERAGE)),$(COV) combine --quiet && $(COV) report)

coverage-html: $(INSTALLED)
	$(COV) html --fail-under=0 && echo "file://$(COVERAGE_DIR)/html/index.html"

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy with django-stubs and djangorestframework-stubs over the package ([tool.mypy]).
typecheck: $(INSTALLED)
	$(VENV)/bin/mypy

# The documentation site (mkdocs.yml), strict: a broken link or anchor, or a page of docs/ not
# in the navigation, fails. Built into a temporary directory; make docs-serve to read it.
# (Not --quiet: it hides the warnings that --strict counts. NO_MKDOCS_2_WARNING: mkdocs.yml.
# PYTHONDONTWRITEBYTECODE: importing .ci/mkdocs_hooks.py leaves no .ci/__pycache__.)
docs: $(INSTALLED)
	site=$$(mktemp -d) && trap 'rm -rf "$$site"' EXIT && \
	NO_MKDOCS_2_WARNING=1 PYTHONDONTWRITEBYTECODE=1 $(VENV)/bin/mkdocs build --strict --site-dir "$$site"

docs-serve: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 PYTHONDONTWRITEBYTECODE=1 $(VENV)/bin/mkdocs serve

# The sdist and the wheel built outside the checkout, twine check, their contents, and the wheel
# delivering one webhook in a throw-away project of its own (.ci/release_check.py).
release-check: $(INSTALLED)
	$(PY) .ci/release_check.py

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
