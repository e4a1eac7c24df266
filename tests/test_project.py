"""What every commit keeps true: no missing migration, clean checks, ruff, the layout."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_the_example_store_passes_the_system_checks():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "example_project.settings", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.skipif(
    not shutil.which("ruff", path=str(Path(sys.executable).parent)), reason="ruff not installed"
)
def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    for command in ([ruff, "check", "."], [ruff, "format", "--check", "."]):
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy not installed")
def test_mypy_passes_over_the_package():
    # What is checked, and how strictly, is [tool.mypy] in pyproject.toml.
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=50
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_the_package_has_no_import_cycle_and_no_module_over_400_lines():
    result = subprocess.run(
        [sys.executable, ".ci/import_graph.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Import cycles: 0" in result.stdout


def test_the_layout_check_finds_a_cycle_and_a_long_module(tmp_path):
    package = tmp_path / "looped"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def late():\n    from .a import something\n" + "x = 1\n" * 5)
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        import import_graph
    finally:
        sys.path.pop(0)
    text, ok = import_graph.report("looped", max_lines=4, top=3, root=tmp_path)
    assert not ok
    assert "looped.a -> looped.b" in text
    assert "TOO LONG" in text
