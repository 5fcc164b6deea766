"""delta-rs storage options for Delta tables on ``gs://`` URIs.

On Google Cloud, delta-rs (the ``object_store`` crate) authenticates with Application Default Credentials, as the
rest of the kit does: no option is needed. Against the emulator it takes a service-account key whose
``gcs_base_url`` points at the emulator (its XML front, :mod:`mlops.local.gcs_xml`, which takes delta-rs's
uploads) and ``disable_oauth`` skips token fetches.
"""

from __future__ import annotations

import json

from mlops.adapters.gcp.clients import GcpClients


def gcs_storage_options(clients: GcpClients) -> dict[str, str]:
    """Options for delta-rs on the factory's GCS (Google's or an emulator's)."""
    host = clients.hosts.storage
    if host is None:
        return {}
    key = {
        "gcs_base_url": host if host.startswith("http") else f"http://{host}",
        "disable_oauth": True,
        "client_email": "",
        "private_key": "",
        "private_key_id": "",
    }
    return {"google_service_account_key": json.dumps(key)}
