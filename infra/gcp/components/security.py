"""Security base on Google Cloud: the stack's key ring and one CMEK key per service, rotated every 90 days, each
usable only by the service agent that encrypts with it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.components.base import child
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity

COMPONENT = "security"
ROTATION_PERIOD = "7776000s"
"""90 days, the AWS key's rotation period."""
KEY_USERS: dict[str, tuple[str, ...]] = {
    "storage": ("storage",),
    "pubsub": ("pubsub",),
    "bigquery": ("bigquery",),
    "firestore": ("firestore",),
    "vertex": ("aiplatform",),
    "artifacts": ("artifactregistry",),
    "dataproc": ("dataproc", "compute"),
    "sql": ("cloudsql",),
    "secrets": ("secretmanager",),
}
"""Key purpose -> the service agents that encrypt and decrypt with it (and nothing else may)."""


@dataclass(frozen=True)
class GcpSecurityArgs:
    """Inputs of :class:`GcpSecurity`."""

    identity: GcpIdentity


class GcpSecurity(pulumi.ComponentResource):
    """Key ring, keys and their grants; :attr:`keys` are the keys' ids by purpose (``projects/.../cryptoKeys/x``)."""

    keys: dict[str, pulumi.Output[str]]
    key_ring: pulumi.Output[str]

    def __init__(self, name: str, args: GcpSecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:security:SecurityBase", name, None, opts)
        ident = args.identity
        ring = gcp.kms.KeyRing(
            f"{name}-key-ring",
            name=gcp_naming.key_ring_name(ident.project, ident.environment),
            location=ident.region,
            project=ident.gcp_project,
            opts=child(self),
        )
        self.key_ring = ring.id
        self.keys = {}
        for purpose, agents in KEY_USERS.items():
            key = gcp.kms.CryptoKey(
                f"{name}-key-{purpose}",
                name=gcp_naming.crypto_key_name(purpose),
                key_ring=ring.id,
                purpose="ENCRYPT_DECRYPT",
                rotation_period=ROTATION_PERIOD,
                labels=ident.labels(COMPONENT),
                # A destroyed key makes everything it encrypted unreadable: the engine must never delete one.
                opts=pulumi.ResourceOptions(parent=self, protect=ident.environment == "prod"),
            )
            for agent in agents:
                gcp.kms.CryptoKeyIAMMember(
                    f"{name}-key-{purpose}-{agent}",
                    crypto_key_id=key.id,
                    role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                    member=ident.agent(agent),
                    opts=child(self),
                )
            self.keys[purpose] = key.id
        self.register_outputs({"keys": self.keys})
