"""The repository's own habits hold: docs navigation, CI workflow, pre-commit, links."""

from __future__ import annotations

import configparser
import itertools
import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
#: Pages the docs site takes from the repository's root (.ci/mkdocs_hooks.py ROOT_PAGES).
GENERATED_PAGES = {"index.md", "changelog.md", "contributing.md", "security-policy.md"}


def load(name: str):
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def tox_envs() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "tox.ini")
    envs = []
    for line in parser["tox"]["envlist"].split():
        parts = [
            part.strip("{}").split(",") if part.startswith("{") else [part]
            for part in re.split(r"-(?![^{]*\})", line)
        ]
        envs += ["-".join(combination) for combination in itertools.product(*parts)]
    return envs


def test_every_page_of_docs_is_in_the_site_navigation_and_every_entry_exists():
    pages = nav_pages(load("mkdocs.yml")["nav"])
    on_disk = {path.relative_to(ROOT / "docs").as_posix() for path in (ROOT / "docs").rglob("*.md")}

    assert len(pages) == len(set(pages)), "a page is in the navigation twice"
    assert on_disk - set(pages) == set(), "add these to nav in mkdocs.yml"
    assert set(pages) - on_disk - GENERATED_PAGES == set(), "nav names pages that do not exist"
    assert set(pages) >= GENERATED_PAGES


def test_the_workflow_runs_the_tox_matrix_with_postgres_and_redis():
    workflow = load(".github/workflows/ci.yml")
    jobs = workflow["jobs"]
    matrix = jobs["tox"]["strategy"]["matrix"]["include"]
    python_of = {"py311": "3.11", "py312": "3.12", "py313": "3.13"}
    test_envs = [env for env in tox_envs() if env.startswith("py")]

    assert len(test_envs) == 6
    assert sorted(entry["env"] for entry in matrix) == sorted(test_envs)
    for entry in matrix:
        assert entry["python"] == python_of[entry["env"].split("-")[0]], entry
    for name in ("tox", "make-test"):
        assert {"postgres", "redis"} <= set(jobs[name]["services"]), name
    # PyYAML reads the key `on` as True (YAML 1.1).
    assert {"push", "pull_request"} <= set(workflow.get("on") or workflow[True])
    assert workflow["env"]["CI"] == "true"


def test_the_workflow_runs_what_ci_run_runs():
    steps = " ".join(
        str(step.get("run", ""))
        for job in load(".github/workflows/ci.yml")["jobs"].values()
        for step in job["steps"]
    )
    ci_run = (ROOT / ".ci" / "run").read_text()
    made = set(re.findall(r"^make ([a-z0-9-]+)", ci_run, re.M))

    assert {"test", "typecheck", "docs", "release-check"} <= made
    for target in made - {"test-django61"}:  # the tox matrix covers Django 6.1 and more
        assert re.search(rf"\bmake (?:[a-z-]+ )*{target}\b", steps), target
    assert "make lint" in steps


def test_pre_commit_runs_ruff_the_import_graph_and_mypy():
    hooks = {
        hook["id"]: hook
        for repo in load(".pre-commit-config.yaml")["repos"]
        for hook in repo["hooks"]
    }

    assert {"ruff-check", "ruff-format", "import-graph", "mypy"} <= set(hooks)
    assert ".ci/import_graph.py" in hooks["import-graph"]["entry"]
    assert hooks["mypy"]["entry"] == "make typecheck"


@pytest.mark.parametrize(
    "document", ["README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md", "docs/security.md"]
)
def test_relative_links_work_on_github(document):
    text = (ROOT / document).read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    targets = re.findall(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)", text)
    broken = [
        target
        for target in targets
        if not re.match(r"[a-z]+:", target)
        and not (ROOT / document).parent.joinpath(target).resolve().exists()
    ]
    assert targets
    assert broken == []


def test_the_checkout_ignores_what_the_tools_write():
    ignored = (ROOT / ".gitignore").read_text().split()

    for pattern in ("*.egg-info/", "build/", "dist/", "/site/", "test-artifacts/"):
        assert pattern in ignored, pattern
