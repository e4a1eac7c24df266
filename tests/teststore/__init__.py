"""A second store, shaped unlike the example in every way that matters to event sources.

Other names (``Purchase``, ``state``, ``lines``), a payment status derived from payment rows
(a cached property, as real stores write it), a fulfilment status derived from shipment lines
two foreign keys away (a method), a field that changes on every checkout and must be ignored.
"""
