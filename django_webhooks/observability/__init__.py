"""What the store's monitoring sees: counters of outcomes (``tally``), traces (``tracing``),
one log line per attempt (``logs``), the backlog (``backlog``) and the admin's overview
(``overview``). The delivery engine calls into it through ``hooks`` only.
"""
