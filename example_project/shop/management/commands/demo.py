"""``manage.py demo``: the example store with a qcluster and a webhook that visibly delivers."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, call_command

from django_webhooks.events import ORDER_EVENT_TYPES
from django_webhooks.models import ApiKey, Webhook
from django_webhooks.portal import links as portal_links

PROJECT_ROOT = Path(__file__).resolve().parents[4]


class Command(BaseCommand):
    help = "Migrate, create admin/admin and a demo webhook, then run the server and a qcluster."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host: str, port: int, **options) -> None:
        if os.environ.get("WEBHOOKS_ALLOW_PRIVATE") != "1":
            # The demo's receiver is on 127.0.0.1, which the address guard refuses: start again
            # (settings are read at start-up) with private destinations allowed, for the demo only.
            os.execve(
                sys.executable,
                [sys.executable, *sys.argv],
                {**os.environ, "WEBHOOKS_ALLOW_PRIVATE": "1"},
            )
        call_command("migrate", interactive=False, verbosity=0)
        user_model = get_user_model()
        if not user_model.objects.filter(username="admin").exists():
            user_model.objects.create_superuser("admin", "admin@example.com", "admin")
        receiver_url = f"http://{host}:{port}/demo-receiver/"
        Webhook.objects.get_or_create(
            url=receiver_url,
            defaults={
                "api_key": ApiKey.objects.default(),
                "events": [*sorted(ORDER_EVENT_TYPES), "customer.deleted"],
            },
        )
        # Stop the cluster with the server, also when the demo itself is terminated.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        cluster = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "manage.py"), "qcluster"], cwd=PROJECT_ROOT
        )
        base = f"http://{host}:{port}"
        token, _expires_at = portal_links.issue(ApiKey.objects.default(), 8)
        portal = portal_links.absolute_link(token, base)
        self.stdout.write(
            self.style.SUCCESS(
                "\n  The example store is running.\n"
                f"  Admin:          {base}/admin/   (login: admin / admin)\n"
                f"  Add an order:   {base}/admin/shop/order/add/\n"
                f"  Demo receiver:  {base}/demo-receiver/\n"
                f"  API:            {base}/api/   (schema: {base}/api/schema/)\n"
                f"  Portal (Default key, 8 hours):\n                  {portal}\n"
                "  Stop with Ctrl-C.\n"
            )
        )
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            cluster.terminate()
            cluster.wait(timeout=30)
