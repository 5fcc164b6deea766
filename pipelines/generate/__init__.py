"""Producers of the shipped datasets: a synthetic card-transaction generator and the diabetes exporter."""
