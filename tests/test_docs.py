"""The docs say what the code does: generated examples, the catalog, a working verifier."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from django.core.management import get_commands

from django_webhooks import events, redelivery
from django_webhooks.models import ApiKey, Webhook
from django_webhooks.worker import engine

DOCS = Path(__file__).resolve().parent.parent / "docs"


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "generate_examples", DOCS / "generate_examples.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def code_blocks(document: str, language: str) -> list[str]:
    text = (DOCS / document).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


@pytest.mark.django_db
def test_example_payloads_are_what_the_generator_produces():
    generated = load_generator().render_examples()

    assert set(generated) == {"Order.json", "Order.xml"}
    for name, text in generated.items():
        on_disk = (DOCS / "examples" / name).read_text(encoding="utf-8")
        assert on_disk == text, (
            f"docs/examples/{name} is stale: run python docs/generate_examples.py"
        )


@pytest.mark.django_db
def test_the_generator_leaves_nothing_behind():
    from example_project.shop.models import Order

    load_generator().render_examples()

    assert not Order.objects.exists()


@pytest.mark.django_db
def test_events_md_catalog_is_what_the_schemas_say():
    generator = load_generator()
    text = (DOCS / "events.md").read_text(encoding="utf-8")

    region = generator.BEGIN + text.partition(generator.BEGIN)[2].partition(generator.END)[0]

    assert region + generator.END == generator.render_catalog(), (
        "docs/events.md's catalog is stale: run python docs/generate_examples.py"
    )
    assert "| `order.status_changed` | Order status changed |" in region
    assert "| `supplier` | string or null |" in region


def test_events_md_shows_the_example_payloads():
    assert code_blocks("events.md", "json")[0] == (DOCS / "examples" / "Order.json").read_text()
    assert code_blocks("events.md", "xml")[0] == (DOCS / "examples" / "Order.xml").read_text()


def test_events_md_lists_the_catalog():
    text = (DOCS / "events.md").read_text(encoding="utf-8")
    built_in = [
        event_type
        for event_type in events.get_event_types()
        if event_type.type != "customer.deleted"
    ]
    assert len(built_in) == 7
    for event_type in built_in:
        assert re.search(
            rf"^\| `{re.escape(event_type.type)}` \| .+ \| {re.escape(str(event_type.label))} \|$",
            text,
            re.M,
        ), event_type.type


def test_the_docs_name_only_commands_that_exist():
    commands = get_commands()
    named = set()
    for document in DOCS.glob("*.md"):
        named |= set(re.findall(r"\bwebhooks_[a-z_]+\b", document.read_text(encoding="utf-8")))
    assert named
    assert named <= set(commands), named - set(commands)
    assert {"webhooks_create_key", "webhooks_recover", "webhooks_prune", "webhooks_stats"} <= named


@pytest.fixture
def verify():
    namespace: dict = {}
    exec(code_blocks("signatures.md", "python")[0], namespace)
    return namespace["verify"]


@pytest.mark.django_db(transaction=True)
def test_the_verifier_in_signatures_md_accepts_real_deliveries(verify, receiver, woken):
    api_key, _token = ApiKey.objects.create_key(name="Partner")
    webhook = Webhook.objects.create(
        api_key=api_key, url=receiver.url("/in"), events=["order.created"]
    )

    redelivery.send_test(webhook)
    engine.run()
    old_secret = api_key.signing_secret
    new_secret = api_key.rotate_signing_secret()
    redelivery.send_test(webhook)
    engine.run()

    first, second = receiver.wait_for(2, "/in")
    assert verify(first.body, first.headers, old_secret) == first.body
    assert verify(first.body, first.headers, new_secret) is None
    # During the grace period both secrets verify.
    assert verify(second.body, second.headers, old_secret) == second.body
    assert verify(second.body, second.headers, new_secret) == second.body
    assert verify(first.body + b" ", first.headers, old_secret) is None
