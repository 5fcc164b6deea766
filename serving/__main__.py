"""``python -m serving``: the inference server's entry point (what the container's ``serve`` runs)."""

from serving.server import main

main()
