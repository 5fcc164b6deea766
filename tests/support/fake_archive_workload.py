"""A stand-in for :mod:`mlops.local.jvm_archive_workload` in unit tests (no JVM): writes what it is told into the
file the dumping JVM option names (``FAKE_ARCHIVE_BYTES``; none: writes nothing), then exits with
``FAKE_ARCHIVE_EXIT``."""

from __future__ import annotations

import os
import shlex
import sys

OPTION = "-XX:ArchiveClassesAtExit="


def main() -> int:
    java_options = shlex.split(os.environ["PYSPARK_SUBMIT_ARGS"])[1].split()
    staged = next(o.removeprefix(OPTION) for o in java_options if o.startswith(OPTION))
    content = os.environ.get("FAKE_ARCHIVE_BYTES")
    if content is not None:
        with open(staged, "w") as archive:
            archive.write(content)
    print("fake workload ran", flush=True)
    return int(os.environ.get("FAKE_ARCHIVE_EXIT", "0"))


if __name__ == "__main__":
    sys.exit(main())
