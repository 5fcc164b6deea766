"""What every Google Cloud component shares: the stack's identity, labels and service-account members."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.gcp import naming as gcp_naming


@dataclass(frozen=True)
class GcpIdentity:
    """Who and where: names and labels derive from these values."""

    project: str
    environment: str
    owner: str
    region: str
    gcp_project: str
    project_number: str

    def labels(self, component: str) -> dict[str, str]:
        """The required labels of a resource of ``component`` (the AWS program's tags)."""
        return gcp_naming.labels(self.project, self.environment, self.owner, component)

    def account_id(self, purpose: str) -> str:
        """Id of the stack's service account for ``purpose``."""
        return gcp_naming.service_account_id(self.project, self.environment, purpose)

    def account_member(self, purpose: str) -> str:
        """IAM member of the stack's service account for ``purpose`` (derived: usable before it exists)."""
        return f"serviceAccount:{gcp_naming.service_account_email(self.account_id(purpose), self.gcp_project)}"

    def agent(self, service: str) -> str:
        """IAM member of the project's service agent of ``service``."""
        return gcp_naming.service_agent(service, self.project_number)


def member(email: pulumi.Input[str]) -> pulumi.Output[str]:
    """``serviceAccount:<email>`` of a service account output."""
    return pulumi.Output.concat("serviceAccount:", email)
