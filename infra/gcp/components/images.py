"""Images on Google Cloud: one Artifact Registry repository per kit image (CMEK, immutable tags, cleanup
policies) and, with ``dockerBuild``, the build and push of each (as the AWS program does with ECR)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_gcp as gcp

from infra.components.base import child
from infra.components.images import BUILD_DIR, UNTAGGED_EXPIRY_DAYS
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity
from mlops.release.images import IMAGES, build_context, image_tag

COMPONENT = "images"


def _image_uri(ident: GcpIdentity, image: str, tag: str) -> Callable[[str], str]:
    def uri(repository: str) -> str:
        return gcp_naming.image_uri(ident.region, ident.gcp_project, repository, image, tag)

    return uri


@dataclass(frozen=True)
class GcpImagesArgs:
    """Inputs of :class:`GcpImages`; ``overrides`` maps an image name to a URI the stack runs instead."""

    identity: GcpIdentity
    kms_key: pulumi.Output[str]
    repo_root: Path
    keep_images: int
    docker_build: bool
    overrides: dict[str, str | None]


class GcpImages(pulumi.ComponentResource):
    """The repositories; :attr:`uris` are what Vertex runs, :attr:`repositories` their ids (for IAM)."""

    uris: dict[str, pulumi.Output[str]]
    repositories: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: GcpImagesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:images:Images", name, None, opts)
        ident = args.identity
        self.uris, self.repositories = {}, {}
        for image, spec in IMAGES.items():
            repository = gcp.artifactregistry.Repository(
                f"{name}-{image}",
                repository_id=gcp_naming.repository_id(ident.project, ident.environment, image),
                project=ident.gcp_project,
                location=ident.region,
                format="DOCKER",
                kms_key_name=args.kms_key,
                docker_config={"immutable_tags": True},
                cleanup_policy_dry_run=False,
                cleanup_policies=[
                    {
                        "id": "untagged",
                        "action": "DELETE",
                        "condition": {"tag_state": "UNTAGGED", "older_than": f"{UNTAGGED_EXPIRY_DAYS * 86400}s"},
                    },
                    {"id": "keep-newest", "action": "KEEP", "most_recent_versions": {"keep_count": args.keep_images}},
                ],
                labels=ident.labels(COMPONENT),
                opts=child(self),
            )
            self.repositories[image] = repository.name
            override = args.overrides.get(image)
            if override:
                self.uris[image] = pulumi.Output.from_input(override)
                continue
            tag = image_tag(spec, args.repo_root)
            uri = repository.repository_id.apply(_image_uri(ident, image, tag))
            self.uris[image] = self._build(name, image, uri, args.repo_root, tag) if args.docker_build else uri
        self.register_outputs({"uris": self.uris})

    def _build(self, name: str, image: str, uri: pulumi.Output[str], repo_root: Path, tag: str) -> pulumi.Output[str]:
        """Build the image from its context and push it; the URI pins the pushed digest."""
        import pulumi_docker_build as docker_build

        context = repo_root / BUILD_DIR / image / tag
        if not (context / "Dockerfile").is_file():
            build_context(IMAGES[image], repo_root, context)
        built = docker_build.Image(
            f"{name}-{image}-build",
            context={"location": str(context)},
            dockerfile={"location": str(context / "Dockerfile")},
            platforms=[docker_build.Platform.LINUX_AMD64],
            tags=[uri],
            push=True,
            build_on_preview=False,
            opts=child(self),
        )
        return pulumi.Output.all(uri, built.digest).apply(lambda v: f"{v[0].rsplit(':', 1)[0]}@{v[1]}")
