"""Figures the integration tests measure, kept in test-artifacts/ for the issues' notes."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def report(filename: str, name: str, **figures) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / filename
    results = json.loads(path.read_text()) if path.exists() else {}
    results[f"{settings.DEPLOYMENT}: {name}"] = figures
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
