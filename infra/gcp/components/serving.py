"""Serving on Google Cloud: the Vertex AI endpoint (CMEK, request/response logging to the lake's catalog). The
deploy step deploys models to it and owns its traffic split (champion/challenger); the program never resets it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.components.base import child
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity

COMPONENT = "serving"
CAPTURE_TABLE = "predictions_log"
"""BigQuery table Vertex writes sampled requests and responses to (the AWS data capture's role)."""


@dataclass(frozen=True)
class GcpServingArgs:
    """Inputs of :class:`GcpServing`."""

    identity: GcpIdentity
    vertex_key: pulumi.Output[str]
    dataset_id: pulumi.Output[str]
    sampling_percent: int


class GcpServing(pulumi.ComponentResource):
    """The endpoint; :attr:`endpoint_id` is its numeric id (derived), :attr:`endpoint_name` its display name."""

    endpoint_id: str
    endpoint_name: str
    endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: GcpServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:serving:Serving", name, None, opts)
        ident = args.identity
        self.endpoint_id = gcp_naming.vertex_endpoint_id(ident.project, ident.environment)
        self.endpoint_name = f"{ident.project}-{ident.environment}-endpoint"
        endpoint = gcp.vertex.AiEndpoint(
            f"{name}-endpoint",
            name=self.endpoint_id,
            display_name=self.endpoint_name,
            project=ident.gcp_project,
            location=ident.region,
            region=ident.region,
            description=f"{ident.environment} online predictions (models deployed by `mlops deploy`)",
            encryption_spec={"kms_key_name": args.vertex_key},
            predict_request_response_logging_config={
                "enabled": args.sampling_percent > 0,
                "sampling_rate": args.sampling_percent / 100.0,
                "bigquery_destination": {
                    "output_uri": args.dataset_id.apply(lambda d: f"bq://{ident.gcp_project}.{d}.{CAPTURE_TABLE}")
                },
            },
            labels=ident.labels(COMPONENT),
            # Deployed models and their traffic split are the deploy step's (blue/green, canary).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["trafficSplit"]),
        )
        # Vertex's agent creates and fills the capture table in the lake's dataset (and nothing else there).
        gcp.bigquery.DatasetIamMember(
            f"{name}-capture-writer",
            dataset_id=args.dataset_id,
            project=ident.gcp_project,
            role="roles/bigquery.dataEditor",
            member=ident.agent("aiplatform"),
            opts=child(self),
        )
        self.endpoint = endpoint.id
        self.register_outputs({"endpoint": self.endpoint})
