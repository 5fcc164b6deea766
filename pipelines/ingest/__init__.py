"""Batch ingestion into the raw zone: one stored object and one manifest per distinct file."""
