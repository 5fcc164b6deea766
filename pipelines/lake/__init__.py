"""The data lake as pipeline code sees it: versioned Delta tables and their Glue catalog entries."""
