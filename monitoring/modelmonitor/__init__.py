"""SageMaker Model Monitor's file contract, written by the kit: ``statistics.json``, ``constraints.json`` (the
baseline, suggested at training time) and ``constraint_violations.json`` (a monitoring run's verdict).

- :mod:`monitoring.modelmonitor.statistics`: per-feature statistics with a quantile sketch (pure).
- :mod:`monitoring.modelmonitor.constraints`: constraints suggested from baseline statistics (pure).
- :mod:`monitoring.modelmonitor.checks`: a current frame judged against the baseline: violations and per-feature
  drift with a three-band status (pure).
- :mod:`monitoring.modelmonitor.job`: the monitoring job over captured or batch-predicted rows (ports only).
"""
