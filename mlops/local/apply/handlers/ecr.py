"""ECR repositories, their lifecycle policies, and the images the program builds (``dockerBuild``).

No Docker engine runs here, so an image is recorded, not built: the handler pushes a manifest that stands for
the image's build context (its digest is a digest of the context's files) under the declared tag, so the
repository lists the tag the stack runs and dependents receive a ``repo@sha256:...`` URI as on AWS.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import LocalApplyError
from mlops.local.apply.base import Applied, Handler, HandlerContext, Outcome, applied, is_not_found, require, tags_list

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
IMAGE = "docker-build:index:Image"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def _repository_state(ctx: HandlerContext, repository: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": repository["repositoryName"],
        "arn": repository["repositoryArn"],
        "repositoryUrl": repository["repositoryUri"],
        "registryId": repository.get("registryId", ctx.account_id),
    }


def repository(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:ecr/repository:Repository``: create it as declared, or bring scanning and tag mutability in step."""
    ecr = ctx.clients.client("ecr")
    repository_name = str(require(inputs, "name", REPOSITORY, name))
    mutability = str(inputs.get("imageTagMutability") or "MUTABLE")
    scan = bool((inputs.get("imageScanningConfiguration") or {}).get("scanOnPush"))
    outcome: Outcome = "reused"
    try:
        current = ecr.describe_repositories(repositoryNames=[repository_name])["repositories"][0]
        if current.get("imageTagMutability") != mutability:
            ecr.put_image_tag_mutability(repositoryName=repository_name, imageTagMutability=mutability)
            outcome = "updated"
        if bool(current.get("imageScanningConfiguration", {}).get("scanOnPush")) != scan:
            ecr.put_image_scanning_configuration(
                repositoryName=repository_name, imageScanningConfiguration={"scanOnPush": scan}
            )
            outcome = "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        request: dict[str, Any] = {
            "repositoryName": repository_name,
            "imageTagMutability": mutability,
            "imageScanningConfiguration": {"scanOnPush": scan},
            "tags": tags_list(inputs.get("tags")),
        }
        encryption = (inputs.get("encryptionConfigurations") or [{}])[0]
        if encryption.get("encryptionType"):
            request["encryptionConfiguration"] = {"encryptionType": encryption["encryptionType"]}
            if encryption.get("kmsKey"):
                request["encryptionConfiguration"]["kmsKey"] = encryption["kmsKey"]
        current = ecr.create_repository(**request)["repository"]
        outcome = "created"
    return applied(repository_name, inputs, outcome, **_repository_state(ctx, current))


def lifecycle_policy(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``aws:ecr/lifecyclePolicy:LifecyclePolicy``: the repository's policy text, set when it differs."""
    ecr = ctx.clients.client("ecr")
    repository_name = str(require(inputs, "repository", LIFECYCLE, name))
    text = str(require(inputs, "policy", LIFECYCLE, name))
    outcome: Outcome = "created"
    try:
        current = ecr.get_lifecycle_policy(repositoryName=repository_name)["lifecyclePolicyText"]
        outcome = "reused" if json.loads(current) == json.loads(text) else "updated"
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    if outcome != "reused":
        ecr.put_lifecycle_policy(repositoryName=repository_name, lifecyclePolicyText=text)
    return applied(repository_name, inputs, outcome, repository=repository_name, registryId=ctx.account_id)


def context_digest(location: Path) -> str:
    """SHA-256 of a build context's files (names and contents): what the recorded image stands for."""
    if not location.is_dir():
        raise LocalApplyError(f"{IMAGE}: build context {location} does not exist")
    digest = hashlib.sha256()
    for path in sorted(p for p in location.rglob("*") if p.is_file()):
        content = path.read_bytes()
        digest.update(f"{path.relative_to(location).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _split_tag(reference: str) -> tuple[str, str]:
    """``<registry>/<repository>:<tag>`` -> (repository, tag)."""
    path, _, tag = reference.rpartition(":")
    if not path or "/" not in path or not tag:
        raise LocalApplyError(f"{IMAGE}: tag {reference!r} is not <registry>/<repository>:<tag>")
    return path.split("/", 1)[1], tag


def image(ctx: HandlerContext, name: str, inputs: dict[str, Any]) -> Applied:
    """``docker-build:index:Image``: record the image under each declared tag of the stack's repositories (a
    manifest standing for the context), without building it; a tag already there is reused (tags are immutable)."""
    ecr = ctx.clients.client("ecr")
    context = require(inputs, "context", IMAGE, name)
    location = Path(str(context.get("location") if isinstance(context, dict) else context))
    content = context_digest(location)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 0},
            "layers": [],
            "annotations": {"org.mlops-kit.context-digest": f"sha256:{content}"},
        },
        sort_keys=True,
    )
    tags = [str(tag) for tag in require(inputs, "tags", IMAGE, name)]
    digest, outcome = "", "reused"
    for reference in tags:
        repository_name, tag = _split_tag(reference)
        try:
            found = ecr.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])
            digest = found["imageDetails"][0]["imageDigest"]
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            pushed = ecr.put_image(
                repositoryName=repository_name,
                imageManifest=manifest,
                imageManifestMediaType=MANIFEST_TYPE,
                imageTag=tag,
            )
            digest, outcome = pushed["image"]["imageId"]["imageDigest"], "created"
    return applied(
        digest,
        {k: v for k, v in inputs.items() if k != "context"},
        "created" if outcome == "created" else "reused",
        digest=digest,
        ref=f"{tags[0]}@{digest}",
        contextHash=content,
    )


HANDLERS: dict[str, Handler] = {REPOSITORY: repository, LIFECYCLE: lifecycle_policy, IMAGE: image}
