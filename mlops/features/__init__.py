"""Feature computation from a dataset definition's ``features:``, one module per engine.

- :mod:`mlops.features.spec`: the semantics both engines share (window bounds, calendar parts, output types);
- :mod:`mlops.features.online`: one new event given the entity's recent history (serving, stream consumers);
- :mod:`mlops.features.frame`: the same features for a whole pandas frame (small batches, benchmarks);
- :mod:`mlops.features.spark`: the batch job's window functions (pyspark is imported inside its functions).
"""
