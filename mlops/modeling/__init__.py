"""The model contract every stage shares: the spec, the scores a model answers and the metrics it is judged by."""
