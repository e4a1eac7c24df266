"""Schemathesis against a live server: every operation, valid and invalid data, all checks.

It runs the ``st`` CLI on the API's own schema, as a third party would, with a valid key and
throttling off (fuzzing is not what a key's budget is for). Random path ids almost never
exist, so the detail operations run again with their ids pinned to a real webhook and a
real attempt.

Deterministic by default; ``SCHEMATHESIS_SEED`` (or ``random``) and
``SCHEMATHESIS_MAX_EXAMPLES`` make a longer hunt.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

from django_webhooks.models import ApiKey
from tests.factories import Status, make_attempt, make_webhook

ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "")
CHECKED = re.compile(r"not_a_server_error\s+(\d+) / (\d+) passed")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing(live_server, settings, tmp_path, fresh_throttle_counts):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "API_THROTTLE_RATE": None}
    api_key, token = ApiKey.objects.create_key(name="Schemathesis")
    webhook = make_webhook(api_key)
    attempt = make_attempt(webhook, Status.FAILED)
    document = json.loads(fetch_schema(live_server.url, token))
    # Pinned runs generate valid data only: a path id is text, so an "invalid" id such as the
    # string "2" is the same URL as the valid 2 and would be reported as accepted bad data.
    pinned = ["--data-generation-method", "positive"]
    webhooks = pin_path_ids(document, "/api/webhooks/{id}/", webhook.pk)
    # POST portal-link/ takes an optional body: schemathesis 3.x sends a "negative" case
    # without one (a valid request, answered 200) and reports it as accepted invalid data.
    # Its run keeps every other check; tests/test_portal_links.py refuses bad hours by hand.
    portal_link = "/api/portal-link/"
    runs = {
        "every operation, valid and invalid data": (
            without_paths(document, portal_link),
            ["--data-generation-method", "all"],
        ),
        "the portal link, valid and invalid data": (
            only_paths(document, portal_link),
            ["--data-generation-method", "all", "--exclude-checks", "negative_data_rejection"],
        ),
        "a real webhook": (webhooks, [*pinned, "--exclude-method", "DELETE"]),
        "a real attempt": (pin_path_ids(document, "/api/attempts/{id}/", attempt.pk), pinned),
        "deleting the real webhook": (webhooks, [*pinned, "--include-method", "DELETE"]),
        # Lone surrogates and huge strings in every body (tests/schemathesis_hooks.py).
        "hostile strings": (document, ["--data-generation-method", "positive"]),
    }

    cases = 0
    for number, (name, (variant, options)) in enumerate(runs.items()):
        schema = tmp_path / f"schema-{number}.json"
        schema.write_text(json.dumps(variant))
        hooks = "tests.schemathesis_hooks" if name == "hostile strings" else None
        output = run_schemathesis(schema, live_server.url, token, options, hooks=hooks)
        checked = CHECKED.search(output)
        assert checked, output
        print(f"schemathesis, {name}: {checked.group(2)} cases")
        cases += int(checked.group(2))

    print(f"schemathesis generated {cases} test cases in all")
    assert cases > 0


def run_schemathesis(
    schema: Path, base_url: str, token: str, options: list[str], *, hooks: str | None = None
) -> str:
    seed = (
        []
        if SEED == "random"
        else ["--hypothesis-seed", SEED]
        if SEED
        else ["--hypothesis-derandomize"]
    )
    result = subprocess.run(
        [
            str(ST),
            "run",
            str(schema),
            "--base-url",
            base_url,
            "--header",
            f"Authorization: Api-Key {token}",
            "--checks",
            "all",
            "--hypothesis-max-examples",
            str(MAX_EXAMPLES),
            *seed,
            # The key is sent as given above; a generated (or negated) Authorization header
            # would be overwritten by it and valid requests counted as invalid ones.
            "--generation-with-security-parameters",
            "false",
            "--request-timeout",
            "10000",
            "--no-color",
            # The document is OpenAPI 3.1 (its webhooks need it); schemathesis 3.x flags that.
            "--experimental=openapi-3.1",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **({"SCHEMATHESIS_HOOKS": hooks} if hooks else {})},
        cwd=Path(__file__).resolve().parent.parent,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def without_paths(document: dict, *paths: str) -> dict:
    return {
        **document,
        "paths": {p: item for p, item in document["paths"].items() if p not in paths},
    }


def only_paths(document: dict, *paths: str) -> dict:
    return {**document, "paths": {p: item for p, item in document["paths"].items() if p in paths}}


def pin_path_ids(document: dict, prefix: str, pk: int) -> dict:
    """Only the operations under ``prefix``, their ``{id}`` a real one.

    An enum rather than ``--set-path``: invalid ids are then still generated (and must get
    a 4xx), where ``--set-path`` would overwrite them and pass valid requests off as invalid.
    """
    pinned = json.loads(json.dumps(document))
    pinned["paths"] = {
        path: item for path, item in pinned["paths"].items() if path.startswith(prefix)
    }
    for item in pinned["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "id":
                    parameter["schema"] = {"type": "integer", "enum": [pk]}
    return pinned


def fetch_schema(base_url: str, token: str) -> bytes:
    request = Request(
        f"{base_url}/api/schema/?format=json", headers={"Authorization": f"Api-Key {token}"}
    )
    with urlopen(request, timeout=30) as response:
        body = response.read()
    json.loads(body)  # fail here, not inside schemathesis, if it is not JSON
    return body
