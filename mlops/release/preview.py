"""Pull-request previews: ``pulumi preview`` of a stack (with the policy pack), as a comment on the pull request.

One comment per stack, found again by a hidden marker and edited in place, so a pull request carries the latest
diff of each stack rather than one comment per push. The GitHub REST calls go through an ``httpx.Client`` the
caller passes (a mock transport in the tests, ``GITHUB_TOKEN`` in a workflow).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mlops.release.errors import ReleaseError
from mlops.release.images import find_tool

MAX_OUTPUT = 60_000
"""GitHub caps a comment at 65,536 characters: longer output keeps its end (the summary and policy results)."""


@dataclass(frozen=True)
class Preview:
    """One stack's preview: the command run, its exit code and its output (stdout and stderr, in order)."""

    stack: str
    command: list[str]
    exit_code: int
    output: str

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


def preview_command(pulumi: str, stack: str, policy_pack: Path | None) -> list[str]:
    command = [pulumi, "preview", "--stack", stack, "--diff", "--non-interactive", "--color", "never"]
    if policy_pack is not None:
        command += ["--policy-pack", str(policy_pack)]
    return command


def run_preview(stack: str, infra_dir: Path, policy_pack: Path | None = None) -> Preview:
    """Run ``pulumi preview --diff`` for ``stack`` in ``infra_dir`` (the Pulumi CLI and a logged-in backend)."""
    pulumi = find_tool("pulumi", "install the Pulumi CLI (the workflows use pulumi/actions without a command)")
    command = preview_command(pulumi, stack, policy_pack)
    done = subprocess.run(command, cwd=infra_dir, capture_output=True, text=True, check=False)
    return Preview(stack, command, done.returncode, (done.stdout + done.stderr).strip())


def marker(stack: str) -> str:
    return f"<!-- mlops-kit preview {stack} -->"


def comment_body(preview: Preview) -> str:
    """Markdown of one stack's preview: its status, then the diff (the end of it, when too long)."""
    output = preview.output
    if len(output) > MAX_OUTPUT:
        output = f"... ({len(output) - MAX_OUTPUT} characters cut)\n" + output[-MAX_OUTPUT:]
    status = "succeeded" if preview.succeeded else f"failed (exit {preview.exit_code})"
    fence = "````" if "```" in output else "```"
    return (
        f"{marker(preview.stack)}\n"
        f"### `pulumi preview` of stack `{preview.stack}`: {status}\n\n"
        f"<details><summary>diff and policy pack results</summary>\n\n{fence}\n{output}\n{fence}\n</details>\n"
    )


def upsert_comment(client: httpx.Client, repository: str, pull_request: int, body: str) -> dict[str, Any]:
    """Edit the pull request's comment carrying ``body``'s marker (its first line), or create it."""
    tag = body.splitlines()[0] if body else ""
    if not tag.startswith("<!--"):
        raise ReleaseError("a preview comment must start with its marker (<!-- ... -->)")
    issue = f"/repos/{repository}/issues/{pull_request}/comments"
    page = 1
    while True:
        listed = client.get(issue, params={"per_page": 100, "page": page})
        _check(listed, f"listing comments of {repository}#{pull_request}")
        comments = listed.json()
        found = next((c for c in comments if str(c.get("body", "")).startswith(tag)), None)
        if found is not None:
            edited = client.patch(f"/repos/{repository}/issues/comments/{found['id']}", json={"body": body})
            _check(edited, f"editing comment {found['id']} of {repository}#{pull_request}")
            result: dict[str, Any] = edited.json()
            return result
        if len(comments) < 100:
            break
        page += 1
    created = client.post(issue, json={"body": body})
    _check(created, f"commenting on {repository}#{pull_request}")
    result = created.json()
    return result


def _check(response: httpx.Response, doing: str) -> None:
    if response.is_error:
        raise ReleaseError(f"{doing} failed: GitHub answered {response.status_code}: {response.text[:500]}")


def github_client(token: str, api_url: str = "https://api.github.com") -> httpx.Client:
    """A client for GitHub's REST API with the workflow's token."""
    return httpx.Client(
        base_url=api_url,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
        timeout=30,
    )
