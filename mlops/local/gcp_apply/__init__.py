"""The infra program applied to Google's emulators (``mlops local up`` with ``cloud: gcp``)."""
