"""The root command loads a command's module only when that command is used (mlops.cli.lazy)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest
import typer
from typer.testing import CliRunner

from mlops.cli.lazy import Entry, LazyGroup
from mlops.cli.main import Root, app

CLI_DIR = Path(__file__).resolve().parents[2] / "mlops" / "cli"
runner = CliRunner()


def _cli_modules_after(argv: list[str]) -> list[str]:
    """The ``mlops.cli`` modules a fresh interpreter has imported after running ``mlops ARGV``."""
    probe = (
        "import contextlib, io, json, sys\nfrom mlops.cli.main import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), "
        "contextlib.suppress(SystemExit):\n"
        f"    app({argv!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('mlops.cli.'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_root_help_imports_no_command_module() -> None:
    assert _cli_modules_after(["--help"]) == ["mlops.cli.lazy", "mlops.cli.main"]


def test_a_command_s_help_imports_its_module_only() -> None:
    loaded = _cli_modules_after(["predict", "--help"])
    assert "mlops.cli.deploy" in loaded
    assert not {"mlops.cli.local", "mlops.cli.monitor", "mlops.cli.release", "mlops.cli.train"} & set(loaded)


def test_the_root_help_lists_every_command_with_its_summary() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:")[1]
    for name, entry in Root.entries.items():
        assert f"  {name} " in listed
        assert entry.summary in listed


@pytest.mark.parametrize("name", sorted(Root.entries))
def test_every_entry_loads_under_its_name_and_answers_help(name: str) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, Root)
    command = group.get_command(typer.Context(group), name)
    assert command is not None
    assert command.name == name
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"mlops {name}" in result.output.replace("root ", "mlops ")


def test_every_command_module_is_reachable_from_the_root() -> None:
    with_app = set()
    for path in CLI_DIR.glob("*.py"):
        if path.stem == "__main__":  # runs the command when imported
            continue
        module = importlib.import_module(f"mlops.cli.{path.stem}")
        if isinstance(getattr(module, "app", None), typer.Typer) and path.stem != "main":
            with_app.add(module.__name__)
    assert with_app == {entry.module for entry in Root.entries.values()}


def test_a_typo_is_answered_with_the_command_it_resembles() -> None:
    result = runner.invoke(app, ["endpont"])
    assert result.exit_code == 2
    assert "Did you mean 'endpoint'?" in result.output


def _root_of(table: Mapping[str, Entry]) -> typer.Typer:
    """A root command built as the kit's is (plain help), with ``table`` as its entries."""

    class Group(LazyGroup):
        entries: ClassVar[Mapping[str, Entry]] = table

    root_app = typer.Typer(cls=Group, rich_markup_mode=None)

    @root_app.callback()
    def root() -> None:
        pass

    return root_app


def test_an_entry_naming_a_missing_command_says_which() -> None:
    broken = _root_of({"nothing": Entry("mlops.cli.deploy", "No such command.", "nothing")})
    result = runner.invoke(broken, ["nothing"])
    assert isinstance(result.exception, LookupError)
    assert "mlops.cli.deploy.app has no command 'nothing'" in str(result.exception)


def test_a_command_registered_directly_is_listed_after_the_entries() -> None:
    mixed = _root_of({"predict": Entry("mlops.cli.deploy", "Score a payload.", "predict")})

    @mixed.command("hello")
    def hello() -> None:
        """Say hello."""

    result = runner.invoke(mixed, ["--help"])
    assert result.exit_code == 0, result.output
    listed = [line.split() for line in result.output.split("Commands:")[1].strip().splitlines()]
    assert listed == [["predict", "Score", "a", "payload."], ["hello", "Say", "hello."]]
