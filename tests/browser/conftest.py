from __future__ import annotations

import pytest
from django.db import connections

from tests.browser.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, IN_CI


@pytest.fixture
def chromium(monkeypatch):
    """A headless Chromium (Playwright), or a skip (a failure under CI=true) without one."""
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}.")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API runs an event loop in this thread, so Django takes the test's own
    # ORM calls for calls from async code. They are not: allow them, in this test only.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # The test's ORM calls ran in Playwright's context, where Django keeps connections of
        # their own: close them here, or they outlive the test and keep its database open.
        connections.close_all()


@pytest.fixture
def browser_page(chromium):
    page = chromium.new_page(viewport=DESKTOP, locale="en-GB")
    page.set_default_timeout(15_000)
    return page
