"""The root command's groups load on first use.

``mlops --help`` lists every command from the one-line summaries below without importing any command module
(each one imports what its commands need: the settings, rich's progress bars, a capability's code), and
``mlops predict`` imports the serving commands only. A command is imported when it runs, when its own help is
asked for, or when the shell completes it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer._click import Command, Context, HelpFormatter
from typer.core import MarkupMode, TyperGroup


@dataclass(frozen=True)
class Entry:
    """Where a root command lives: the ``app`` of ``module`` (a Typer), or one ``command`` of that app."""

    module: str
    summary: str
    command: str | None = None

    def load(self, name: str, markup: MarkupMode) -> Command:
        """The command, its help rendered in ``markup`` (as a group added with ``add_typer`` would inherit it,
        and without the shell-completion options only the root offers)."""
        app = importlib.import_module(self.module).app
        group = typer.main.get_group_from_info(
            typer.models.TyperInfo(app),
            pretty_exceptions_short=app.pretty_exceptions_short,
            suggest_commands=app.suggest_commands,
            rich_markup_mode=markup,
        )
        command: Command = group
        if self.command is not None:
            if self.command not in group.commands:
                raise LookupError(f"{self.module}.app has no command {self.command!r}")
            command = group.commands[self.command]
        command.name = name
        return command


class _Commands(MutableMapping[str, Command]):
    """A group's command table: every name known up front, each command built on first access."""

    def __init__(self, entries: Mapping[str, Entry], loaded: MutableMapping[str, Command], markup: MarkupMode) -> None:
        self._entries = entries
        self._loaded = loaded
        self._markup = markup

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded:
            if name not in self._entries:
                raise KeyError(name)
            self._loaded[name] = self._entries[name].load(name, self._markup)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._entries
        yield from (name for name in self._loaded if name not in self._entries)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LazyGroup(TyperGroup):
    """A Typer group whose subcommands are the ``entries`` of the subclass (plus any registered directly); their
    help renders in ``markup`` (the group's own help in the Typer's ``rich_markup_mode``)."""

    entries: ClassVar[Mapping[str, Entry]] = {}
    markup: ClassVar[MarkupMode] = "markdown"

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.entries, dict(self.commands), self.markup)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # the names, without building the commands as items() would

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The entries by their summaries (nothing imported), then any command registered directly (built)."""
        rows = [(name, entry.summary) for name, entry in self.entries.items()]
        rows += [(name, self.commands[name].get_short_help_str()) for name in self.commands if name not in self.entries]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
