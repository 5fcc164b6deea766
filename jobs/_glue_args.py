"""``getResolvedOptions`` with AWS Glue's semantics (``awsglue`` is not on PyPI; this module runs on Glue too).

Glue starts a script as ``script.py --JOB_NAME <name> --JOB_RUN_ID <id> --<key> <value> ...``: the job's
DefaultArguments merged with the run's Arguments, plus Glue's own flags (``--TempDir``, ``--job-bookmark-option``,
``--enable-metrics`` ...). So, as in Glue:

- every requested option is required (``--name value`` or ``--name=value``); a missing one is an error naming it;
- flags that were not requested are ignored, because Glue always adds its own;
- Glue's reserved names (``JOB_ID``, ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``, ``encryption-type``) cannot be
  requested; they are returned when present (``None`` otherwise);
- a repeated flag keeps its last value (a run argument placed after the default it overrides).

``resolve_options`` adds what Glue scripts usually hand-roll: options that may be absent.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from mlops.errors import ConfigError

RESERVED = ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "encryption-type")


class GlueArgumentError(ConfigError):
    """A job argument is missing, reserved or malformed."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse's exits the process
        raise GlueArgumentError(f"job arguments: {message}")


def _parser(required: Sequence[str], optional: Sequence[str]) -> _Parser:
    parser = _Parser(prog="glue-job", add_help=False, allow_abbrev=False)
    for name in (*required, *optional):
        if name in RESERVED:
            raise GlueArgumentError(f"job arguments: {name!r} is reserved by Glue and cannot be requested")
    for name in RESERVED:
        parser.add_argument(f"--{name}", dest=name, required=False)
    for name in required:
        parser.add_argument(f"--{name}", dest=name, required=True)
    for name in optional:
        parser.add_argument(f"--{name}", dest=name, required=False)
    return parser


def get_resolved_options(argv: Sequence[str], options: Sequence[str]) -> dict[str, str | None]:
    """Glue's ``getResolvedOptions(sys.argv, options)``: ``argv[0]`` is the script and is skipped."""
    return resolve_options(argv, required=options)


def resolve_options(
    argv: Sequence[str], required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, str | None]:
    """Required and optional options (absent optional ones are ``None``), plus Glue's reserved ones."""
    parsed, _glue_flags = _parser(required, optional).parse_known_args(list(argv[1:]))
    return dict(vars(parsed))
