"""The web side: a model save becomes event rows in the same transaction (the outbox).

``tracking`` watches the source models, ``subscriptions`` asks whether anyone listens, and
``outbox`` writes the events and wakes the queue once the transaction commits.
"""
