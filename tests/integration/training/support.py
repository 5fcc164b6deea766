"""Datasets as the stack holds them for the training pipeline: a feature Delta table and the deployed definition
file the Prepare step reads (the infra program deploys the datasets directory's files; tests deploy their own)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from mlops.datasets import DatasetDefinition
from mlops.layout import split_uri
from mlops.platform import Platform
from pipelines.training.workflow import definition_uri
from tests.unit.training.synthetic import definition_yaml


def publish_definition(platform: Platform, spec: DatasetDefinition) -> None:
    """Deploy ``spec`` where the stack deploys definitions (``<dataset_definitions_uri><name>/<name>.yaml``)."""
    _, bucket, prefix = split_uri(definition_uri(platform, spec.name))
    platform.services.object_store.put(bucket, f"{prefix}{spec.name}.yaml", definition_yaml(spec).encode())


def publish_dataset(platform: Platform, spec: DatasetDefinition, frame: pd.DataFrame) -> int:
    """A feature table version of ``frame`` (through the table store, as the feature job writes it) and the
    deployed definition; returns the table version."""
    uri = platform.layout.feature_table_uri(spec.name)
    version = platform.services.table_store.write(
        uri, pa.Table.from_pandas(frame, preserve_index=False), "overwrite", {}
    )
    publish_definition(platform, spec)
    return version
