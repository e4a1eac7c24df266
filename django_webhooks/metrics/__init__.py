"""``GET /metrics``: the Prometheus text format, computed from the database at scrape time.

Mount it with ``path("metrics", include("django_webhooks.metrics.urls"))`` and set
``WEBHOOKS["METRICS_TOKEN"]``; docs/operations.md lists the metrics and why they come from the
database rather than from each process's memory.
"""
