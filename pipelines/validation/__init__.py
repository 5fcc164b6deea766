"""Batch validation: parse, type, check with Great Expectations, split into validated and quarantined rows."""
