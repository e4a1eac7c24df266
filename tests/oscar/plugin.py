"""``python -m pytest -p tests.oscar.plugin tests/oscar`` (``make test-oscar``): the Oscar run.

tests/oscar is a django-oscar shop with settings of its own (Oscar's apps and migrations), so
it is a pytest run of its own, which the main run leaves out (tests/conftest.py). This plugin
picks the shop's settings before pytest-django reads them. Without django-oscar the main
settings stay and each Oscar test module is one skipped test saying why; under ``CI=true``
the run is an error instead.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

SETTINGS = "tests.oscar.settings"
MISSING = "django-oscar is not installed (pip install -e '.[oscar]')"
HERE = Path(__file__).resolve().parent


def oscar_installed() -> bool:
    return importlib.util.find_spec("oscar") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    if oscar_installed():
        os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    elif os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"CI=true but {MISSING}: the Oscar tests cannot run.")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    if oscar_installed() or not module_path.resolve().is_relative_to(HERE):
        return None
    return _Unimportable.from_parent(parent, path=module_path)


class _Unimportable(pytest.File):
    """A test module that imports Oscar, collected without importing it."""

    def collect(self):
        skipped = _Skipped.from_parent(self, name=self.path.name)
        skipped.add_marker(pytest.mark.skip(reason=MISSING))
        yield skipped


class _Skipped(pytest.Item):
    def runtest(self) -> None:
        raise AssertionError("a skipped item never runs")

    def reportinfo(self):
        return self.path, 0, self.name
