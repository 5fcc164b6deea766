"""The Google Cloud program: the same ten components as the AWS program, declared with ``pulumi-gcp``."""
