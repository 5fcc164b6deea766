"""The warm command server keeps the kit's core modules for the commands it forks only while they are what a cold
command would import (mlops.local.warm_kit): an edited, added or moved module drops them all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.local.warm_kit import CORE, current, forget, import_core

PACKAGES = ("kitpkg",)


def _write_package(root: Path, body: str = "VALUE = 1\n") -> Path:
    package = root / "kitpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text(body)
    (package / "later.py").write_text("")
    (package / "broken.py").write_text("raise RuntimeError('cannot import')\n")
    return package


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A stand-in kit on the import path; its modules are dropped again after the test."""
    code = tmp_path / "code"
    _write_package(code)
    sys.path.insert(0, str(code))
    try:
        yield code
    finally:
        sys.path.remove(str(code))
        forget(PACKAGES)


def test_the_modules_imported_are_current_until_a_file_changes(root: Path) -> None:
    imported = import_core(["kitpkg.core"], PACKAGES)
    assert sorted(Path(f).name for f in imported.files) == ["__init__.py", "core.py"]
    assert current(imported, sys.path, PACKAGES)
    core = root / "kitpkg" / "core.py"
    stat = core.stat()
    os.utime(core, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert not current(imported, sys.path, PACKAGES)


def test_an_edit_that_keeps_the_time_but_not_the_size_is_seen(root: Path) -> None:
    imported = import_core(["kitpkg.core"], PACKAGES)
    core = root / "kitpkg" / "core.py"
    stat = core.stat()
    core.write_text("VALUE = 22\n")
    os.utime(core, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert not current(imported, sys.path, PACKAGES)


def test_a_module_imported_after_the_record_is_not_trusted(root: Path) -> None:
    imported = import_core(["kitpkg.core"], PACKAGES)
    __import__("kitpkg.later")
    assert not current(imported, sys.path, PACKAGES)


def test_a_package_found_elsewhere_on_the_command_s_path_is_not_current(root: Path, tmp_path: Path) -> None:
    imported = import_core(["kitpkg.core"], PACKAGES)
    other = tmp_path / "other-checkout"
    _write_package(other)
    assert current(imported, [str(root)], PACKAGES)
    assert not current(imported, [str(other), str(root)], PACKAGES)


def test_a_module_to_run_as_main_must_not_be_held(root: Path) -> None:
    imported = import_core(["kitpkg.core"], PACKAGES)
    assert current(imported, sys.path, PACKAGES, main="kitpkg.later")  # imported afresh by runpy: fine
    assert not current(imported, sys.path, PACKAGES, main="kitpkg.core")


def test_forget_drops_every_module_of_the_packages(root: Path) -> None:
    import_core(["kitpkg.core"], PACKAGES)
    forget(PACKAGES)
    assert not [name for name in sys.modules if name.startswith("kitpkg")]
    assert not current(import_core([], PACKAGES), sys.path, PACKAGES)  # nothing held: nothing to keep


def test_a_module_that_fails_to_import_leaves_nothing_held(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    imported = import_core(["kitpkg.core", "kitpkg.broken"], PACKAGES)
    assert imported.files == {}
    assert not [name for name in sys.modules if name.startswith("kitpkg")]
    assert "kitpkg.broken not imported ahead (RuntimeError('cannot import'))" in capsys.readouterr().err


def test_the_default_core_imports_every_command_s_module_and_holds_them() -> None:
    probe = (
        "import json, sys\nfrom mlops.local.warm_kit import CORE, command_modules, import_core\n"
        "held = import_core()\n"
        "wanted = [*CORE, *command_modules()]\n"
        "print(json.dumps({'missing': [m for m in wanted if m not in sys.modules], 'files': len(held.files),"
        " 'commands': command_modules()}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert "not imported ahead" not in done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["missing"] == []
    assert report["files"] >= len(CORE)
    assert {"mlops.cli.deploy", "mlops.cli.monitor", "mlops.cli.release"} <= set(report["commands"])
