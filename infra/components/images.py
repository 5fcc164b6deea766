"""Images: one ECR repository per kit image (scan on push, immutable tags, KMS, lifecycle) and, when the stack
builds its images itself (``dockerBuild``), the build and push of each from its context.

The image a stack runs is, in order: the URI its config names (``trainingImageUri``/``servingImageUri``); else its
own repository's image built by the program (pinned by digest); else its own repository's image under the content
tag (:func:`mlops.release.images.image_tag`), which CI pushes before ``pulumi up``. Either way the URIs flow into
the SageMaker pipeline's parameters (``TrainingImage``/``InferenceImage``) and the serving model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.components.base import StackIdentity, child
from mlops.release.images import IMAGES, build_context, image_tag

COMPONENT = "images"
BUILD_DIR = Path(".mlops") / "build" / "images"
UNTAGGED_EXPIRY_DAYS = 7


def lifecycle_policy(keep: int) -> str:
    """Expire untagged images (interrupted pushes, superseded manifests) after a week, and all but the ``keep``
    newest content-tagged ones (``ctx-*``): older model versions stay deployable for as many releases."""
    rules = [
        {
            "rulePriority": 1,
            "description": f"untagged images after {UNTAGGED_EXPIRY_DAYS} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_EXPIRY_DAYS,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"keep the {keep} newest content-tagged images",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["ctx-"],
                "countType": "imageCountMoreThan",
                "countNumber": keep,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, sort_keys=True)


@dataclass(frozen=True)
class ImagesArgs:
    """Inputs of :class:`Images`. ``overrides`` maps an image name to a URI the stack runs instead of its own."""

    identity: StackIdentity
    kms_key_arn: pulumi.Output[str]
    repo_root: Path
    keep_images: int
    docker_build: bool
    overrides: dict[str, str | None]


class Images(pulumi.ComponentResource):
    """The kit's images in this stack's registry; :attr:`uris` are what SageMaker runs."""

    uris: dict[str, pulumi.Output[str]]
    repository_arns: dict[str, pulumi.Output[str]]
    repository_urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ImagesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:images:Images", name, None, opts)
        ident = args.identity
        tags = ident.tags(COMPONENT)
        self.uris, self.repository_arns, self.repository_urls = {}, {}, {}
        for image, spec in IMAGES.items():
            repository = aws.ecr.Repository(
                f"{name}-{image}",
                name=naming.ecr_repository_name(ident.project, ident.environment, image),
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.kms_key_arn}],
                # production keeps its images when the stack goes; other stacks can be destroyed whole
                force_delete=ident.environment != "prod",
                tags=tags,
                opts=child(self),
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{image}-lifecycle",
                repository=repository.name,
                policy=lifecycle_policy(args.keep_images),
                opts=child(self),
            )
            self.repository_arns[image] = repository.arn
            self.repository_urls[image] = repository.repository_url
            override = args.overrides.get(image)
            if override:
                self.uris[image] = pulumi.Output.from_input(override)
                self.repository_arns[image] = pulumi.Output.from_input(naming.ecr_repository_arn(override))
                continue
            tag = image_tag(spec, args.repo_root)
            if args.docker_build:
                self.uris[image] = self._build(name, image, tag, repository, args.repo_root)
            else:
                self.uris[image] = pulumi.Output.concat(repository.repository_url, ":", tag)
        self.register_outputs({"uris": self.uris})

    def _build(
        self, name: str, image: str, tag: str, repository: aws.ecr.Repository, repo_root: Path
    ) -> pulumi.Output[str]:
        """Build the image from its context and push it under its content tag; the URI pins the pushed digest."""
        import pulumi_docker_build as docker_build

        context = repo_root / BUILD_DIR / image / tag
        if not (context / "Dockerfile").is_file():
            build_context(IMAGES[image], repo_root, context)
        built = docker_build.Image(
            f"{name}-{image}-build",
            context={"location": str(context)},
            dockerfile={"location": str(context / "Dockerfile")},
            platforms=[docker_build.Platform.LINUX_AMD64],
            tags=[pulumi.Output.concat(repository.repository_url, ":", tag)],
            push=True,
            # a pull request's preview (read-only role, no registry login) neither builds nor pushes
            build_on_preview=False,
            opts=child(self, depends_on=[repository]),
        )
        return pulumi.Output.all(repository.repository_url, built.digest).apply(lambda v: f"{v[0]}@{v[1]}")
