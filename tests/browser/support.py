"""What the browser tests share: Debian's Chromium, how it is launched, the screenshots."""

from __future__ import annotations

import os
from pathlib import Path

from tests.artifacts import ARTIFACTS as ALL_ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ALL_ARTIFACTS / "browser"
IN_CI = os.environ.get("CI", "").lower() == "true"
DESKTOP = {"width": 1280, "height": 900}


def shot(page, name: str, **options) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path
