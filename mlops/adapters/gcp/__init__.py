"""Google Cloud adapters: the only modules (with mlops/local/) that import google.cloud, one per service, each
implementing a port of mlops.ports."""
