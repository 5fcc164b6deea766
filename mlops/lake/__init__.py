"""The lake: Delta tables (delta-rs) on any object store, shared by jobs, serving and pipelines."""
