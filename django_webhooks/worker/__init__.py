"""The worker side, run by django-q2's qcluster: fan events out and deliver the attempts.

``tasks`` are the entry points the queue calls; ``ticker`` wakes the queue when retries fall
due; ``dispatch`` turns events into attempts; ``engine`` runs one delivery run, with
``claims`` (who sends what), ``sending`` (a request per attempt) and ``outcomes`` (verdicts
and retries). The HTTP itself is :mod:`django_webhooks.transport`.
"""
