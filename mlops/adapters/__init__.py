"""Capability adapters: one small Protocol per capability and its AWS implementation."""
