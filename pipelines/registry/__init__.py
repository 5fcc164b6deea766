"""The promotion gate over the model registry port: score challenger vs champion, then promote or roll back."""
