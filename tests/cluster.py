"""Real ``manage.py qcluster`` processes for integration tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


class Cluster:
    """One qcluster process on the live test database, with delivery settings of its own."""

    def __init__(
        self,
        overrides: dict | None = None,
        *,
        workers: int = 2,
        env: dict | None = None,
        settings_module: str = "tests.settings",
    ):
        self.overrides = overrides or {}
        self.workers = workers
        self.settings_module = settings_module
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []
        self._running = threading.Event()

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "WEBHOOKS_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
            "WEBHOOKS_TEST_OVERRIDES": json.dumps(self.overrides),
            "Q_WORKERS": str(self.workers),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def start(self, timeout: float = 30.0) -> Cluster:
        self._running.clear()
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            cwd=ROOT,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self.process,), daemon=True)
        self._reader.start()
        if not self._running.wait(timeout):
            self.stop()
            raise AssertionError("qcluster did not start:\n" + "\n".join(self.output[-40:]))
        return self

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.output.append(line.rstrip())
            if "running." in line:
                self._running.set()

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close()

    def _close(self) -> None:
        self._reader.join(5)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def kill(self) -> None:
        """SIGKILL the whole cluster: sentinel, workers, monitor, pusher."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._close()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def cluster_of(claimant: str, clusters: list[Cluster]) -> int | None:
    """Which of ``clusters`` the worker ``host:pid`` belongs to (its process group)."""
    try:
        group = os.getpgid(int(claimant.rsplit(":", 1)[1]))
    except ProcessLookupError:
        return None
    return next((n for n, c in enumerate(clusters) if c.process.pid == group), None)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(interval)
