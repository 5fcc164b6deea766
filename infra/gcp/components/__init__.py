"""One ``ComponentResource`` per capability on Google Cloud (the same type tokens' areas as ``infra/components``)."""
