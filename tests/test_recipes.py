"""docs/recipes/oscar.md shows the code that tests/oscar runs, and nothing else.

The recipe calls the shop "frobshop" (as Oscar's docs do); tests/oscar is that shop, so its
dotted paths start with ``tests.oscar.`` where the recipe's start with ``frobshop.``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "docs" / "recipes" / "oscar.md"
SHOP = ROOT / "tests" / "oscar"


def as_in_the_recipe(name: str) -> str:
    return (SHOP / name).read_text(encoding="utf-8").replace("tests.oscar.", "frobshop.")


def recipe_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", RECIPE.read_text(encoding="utf-8"), re.S)


def settings_region(first: str, last: str) -> str:
    """The lines of the shop's settings from the one starting ``first`` to ``last``."""
    found = re.search(
        rf"^{re.escape(first)}.*?^{re.escape(last)}$\n",
        as_in_the_recipe("settings.py"),
        re.S | re.M,
    )
    assert found, first
    return found.group(0)


def test_every_python_block_of_the_recipe_is_code_the_oscar_tests_run():
    tested = [as_in_the_recipe(name) for name in ("settings.py", "store_webhooks.py", "urls.py")]
    blocks = recipe_blocks("python")
    assert len(blocks) >= 6
    for block in blocks:
        assert any(block in text for text in tested), f"not in tests/oscar:\n{block}"


def test_the_recipe_shows_the_whole_glue_module():
    assert as_in_the_recipe("store_webhooks.py") in recipe_blocks("python")


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("WEBHOOKS = {", "}"),
        ("Q_CLUSTER = {", "}"),
        ("def can_see_webhooks(", "]"),
    ],
)
def test_the_recipe_shows_the_settings_the_shop_runs_with(first, last):
    assert settings_region(first, last) in recipe_blocks("python")


def test_the_recipe_shows_the_lines_the_shop_adds_for_the_app():
    installed = 'INSTALLED_APPS += ["rest_framework", "django_q", "django_webhooks"]\n'
    api = 'urlpatterns += [path("api/", include("django_webhooks.api.urls"))]\n'
    assert installed in as_in_the_recipe("settings.py")
    assert api in as_in_the_recipe("urls.py")
    assert {installed, api} <= set(recipe_blocks("python"))


def test_the_readme_and_installing_md_link_the_recipe():
    for document in (ROOT / "README.md", ROOT / "docs" / "installing.md"):
        assert "recipes/oscar.md" in document.read_text(encoding="utf-8"), document.name
