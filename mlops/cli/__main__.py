"""``python -m mlops.cli`` runs the ``mlops`` command (used by tests and by environments without the script)."""

from mlops.cli.entry import main

main()
