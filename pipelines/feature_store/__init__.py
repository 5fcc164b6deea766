"""Feature store: the versioned offline feature table, point-in-time retrieval and online materialization."""
