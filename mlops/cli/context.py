"""What every command shares: settings resolved once from the global options, console output, JSON output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from mlops.errors import ConfigError

if TYPE_CHECKING:  # boto3 and pydantic load only when a command reaches them (`--help` stays light)
    from mlops.adapters.aws.clients import ClientFactory
    from mlops.outputs import StackOutputs
    from mlops.platform import Platform
    from mlops.settings import Settings

console = Console(stderr=True)
# A command whose answer IS its output (a status, a listing) prints it for people on stdout, as --json does.
out = Console()


@dataclass
class CliContext:
    """Built by the root callback from ``--target/--region/--env/--stack``; settings are loaded lazily."""

    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _clients: ClientFactory | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from mlops.datasets import export_datasets_dir
            from mlops.settings import load_settings

            self._settings = load_settings(**self.overrides)
            export_datasets_dir(self._settings.datasets_dir)
        return self._settings

    @property
    def clients(self) -> ClientFactory:
        """AWS clients for the local runtime's commands (capability code gets ports, never these)."""
        if self._clients is None:
            from mlops.wiring import client_factory

            self._clients = client_factory(self.settings)
        return self._clients

    def outputs(self) -> StackOutputs:
        from mlops.outputs import load_outputs

        settings = self.settings
        return load_outputs(settings.resolved_outputs_file, settings.stack_name)

    def platform(self) -> Platform:
        """The stack as pipeline code sees it: settings, clients and the stack's outputs (read now)."""
        from mlops.wiring import build_platform

        return build_platform(self.settings, self.outputs())


def cli_context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        obj = CliContext()
        ctx.find_root().obj = obj
    return obj


def emit_json(payload: Any) -> None:
    """Machine-readable output on stdout (human messages go to stderr, so pipes stay clean)."""
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def key_value_pairs(pairs: list[str], option: str, example: str) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``; keys are stripped, the first ``=`` splits.

    A pair without ``=`` or with an empty key is a :class:`ConfigError` naming ``option`` and the pair.
    """
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{option} {pair!r} must look like {example}")
        parsed[key] = value
    return parsed
