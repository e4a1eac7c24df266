"""The alert rules and the Grafana dashboard in docs/ speak of metrics the endpoint exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from django_webhooks.worker import engine
from example_project.shop.models import Order
from tests.metrics_support import names, scrape, with_token

DOCS = Path(__file__).resolve().parents[1] / "docs"
RULES = DOCS / "prometheus" / "django-webhooks-rules.yml"
DASHBOARD = DOCS / "grafana" / "django-webhooks.json"
METRIC = re.compile(r"\bdjango_webhooks_[a-z_]+\b")
URL = "https://erp.example.com/hooks"


@pytest.fixture
def exposed(webhook, http_mock):
    """Every sample name a scrape shows once something was delivered."""
    http_mock.post(webhook.url, status=200)
    Order.objects.create()
    engine.run()
    with with_token():
        return names(scrape())


def rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_rules_file_has_the_three_alerts():
    alerts = {rule["alert"]: rule for rule in rules()}
    assert set(alerts) == {
        "WebhooksBacklogGrowing",
        "WebhooksSuccessRateFalling",
        "WebhookSwitchedOff",
    }
    for rule in alerts.values():
        assert rule["labels"]["severity"]
        assert rule["annotations"]["summary"]
        assert rule.get("for", "0m")[-1] in "smh"


@pytest.mark.django_db(transaction=True)
def test_every_expression_names_exposed_metrics(exposed):
    expressions = [rule["expr"] for rule in rules()] + dashboard_expressions()
    assert len(expressions) >= 13
    for expression in expressions:
        used = set(METRIC.findall(expression))
        assert used, expression
        assert used <= exposed, (expression, used - exposed)
        assert expression.count("(") == expression.count(")"), expression


def test_operations_md_shows_the_rules_as_they_are_in_the_file():
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    assert "docs/grafana/django-webhooks.json" in text
    for rule in rules():
        assert " ".join(rule["expr"].split()) in " ".join(text.split()), rule["alert"]
