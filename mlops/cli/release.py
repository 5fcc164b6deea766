"""``mlops release``: the steps CI runs to ship the kit (see docs/release.md and .github/workflows/).

Each command is one step of a workflow, so a workflow stays a list of commands tested here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli.context import console, emit_json

app = typer.Typer(
    help=(
        "Ship the kit: build the images' contexts and compute their immutable tags (the Dockerfiles are in "
        "docker/; CI builds them), preview stacks for pull requests, smoke-test an endpoint, gate a promotion."
    ),
    no_args_is_help=True,
)

RepoRoot = Annotated[
    Path | None, typer.Option(help="Repository holding docker/, pyproject.toml and uv.lock (default: the kit's).")
]


def _repo(repo_root: Path | None) -> Path:
    from infra.config import REPO_ROOT

    return repo_root or REPO_ROOT


@app.command()
def context(
    image: Annotated[str, typer.Argument(help="training or serving")],
    out: Annotated[Path, typer.Option(help="Directory to write the build context to (replaced).")],
    repo_root: RepoRoot = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the context's path, tag and counts as JSON.")] = False,
) -> None:
    """Write IMAGE's build context: `docker build OUT -t REPO:TAG` then builds exactly what the tests ran."""
    from mlops.release.images import build_context, image_spec

    built = build_context(image_spec(image), _repo(repo_root), out)
    if json_out:
        emit_json(
            {
                "image": built.image,
                "path": str(built.path),
                "tag": built.tag,
                "requirements": built.requirements,
                "files": built.files,
            }
        )
        return
    console.print(
        f"{built.image}: context {built.path} ({built.requirements} distributions, {built.files} files), "
        f"tag {built.tag}"
    )


@app.command()
def tag(
    image: Annotated[str, typer.Argument(help="training or serving")],
    repo_root: RepoRoot = None,
) -> None:
    """Print IMAGE's immutable tag (a digest of its context), the tag the stack's program points at."""
    from mlops.release.images import image_spec, image_tag

    typer.echo(image_tag(image_spec(image), _repo(repo_root)))
