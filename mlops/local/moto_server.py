"""The embedded emulator's process: moto's server, run after :mod:`mlops.local.moto_fixes` made the costs that
grow with the stored data proportional to each request. ``python -m mlops.local.moto_server -H HOST -p PORT``
takes moto's own arguments (``python -m moto.server --help``)."""

from __future__ import annotations

import sys

from mlops.local import moto_fixes


def main(argv: list[str]) -> None:
    moto_fixes.apply()
    from moto.server import main as serve

    serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
