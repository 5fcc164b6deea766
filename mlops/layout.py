"""The lake layout: every bucket key, prefix, object URI and table URI the kit uses, built in this one module.

Buckets come from ``StackOutputs.bucket_for_zone``; the module-level functions build keys within a zone and
:class:`Layout` binds them to a stack's buckets and its object store's URI scheme (``s3`` on AWS, ``gs`` on
Google Cloud), so no other module spells a ``s3://`` string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops.outputs import StackOutputs

MANIFESTS = "_manifests"


def batch_id_of(checksum: str) -> str:
    """A batch is named by the first 16 hex digits of its file's SHA-256."""
    return checksum[:16]


def raw_key(dataset: str, ingest_date: date, checksum: str, suffix: str) -> str:
    return f"{dataset}/ingest_date={ingest_date.isoformat()}/{checksum}.{suffix}"


def manifest_prefix(dataset: str) -> str:
    return f"{dataset}/{MANIFESTS}/"


def manifest_key(dataset: str, checksum: str) -> str:
    return f"{manifest_prefix(dataset)}{checksum}.json"


def validated_prefix(dataset: str) -> str:
    """In the curated zone: one ``batch_id=<id>/`` folder per validated batch below it."""
    return f"validated/{dataset}/"


def validated_key(dataset: str, batch_id: str) -> str:
    """In the curated zone."""
    return f"{validated_prefix(dataset)}batch_id={batch_id}/part-0.parquet"


def quarantine_key(dataset: str, batch_id: str) -> str:
    """In the quarantine zone."""
    return f"{dataset}/batch_id={batch_id}/part-0.parquet"


def result_prefix(dataset: str) -> str:
    """In the monitoring zone: every validation result of the dataset is below it."""
    return f"validation/{dataset}/"


def result_key(dataset: str, batch_id: str) -> str:
    """In the monitoring zone."""
    return f"{result_prefix(dataset)}{batch_id}.json"


def table_key(dataset: str) -> str:
    """In a zone's bucket: the Delta table of ``dataset`` (curated rows in the curated zone, features in the
    features zone: the offline feature store)."""
    return f"tables/{dataset}"


def report_key(dataset: str, kind: str, when: datetime) -> str:
    """In the monitoring zone: one monitoring report (``drift``, ``performance``, ...)."""
    return f"reports/{dataset}/{kind}/{when.strftime('%Y%m%dT%H%M%SZ')}.json"


def training_job_prefix(job_name: str) -> str:
    """In the models zone: a training job's channels (``input/<channel>/``) and output (``output/``)."""
    return f"training-jobs/{job_name}"


def evaluation_key(job_name: str) -> str:
    """In the models zone: the evaluation report a training job's model was registered with."""
    return f"{training_job_prefix(job_name)}/output/evaluation.json"


def mlflow_artifacts_prefix(dataset: str) -> str:
    """In the models zone: MLflow's artifact root of the dataset's experiment."""
    return f"mlflow/{dataset}"


def batch_transform_prefix(dataset: str, job_name: str) -> str:
    """In the artifacts zone: a batch transform's input and output files."""
    return f"batch-transform/{dataset}/{job_name}"


def split_uri(uri: str) -> tuple[str, str, str]:
    """``scheme://bucket/key`` -> ``(scheme, bucket, key)``; a URI without a scheme is refused."""
    scheme, sep, rest = uri.partition("://")
    if not sep or not rest:
        raise ValueError(f"{uri!r} is not an object URI (scheme://bucket/key)")
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


def filesystem_path(uri: str) -> str:
    """``scheme://bucket/key`` -> ``bucket/key``: the path Arrow filesystems and pandas' ``filesystem=`` take."""
    _, bucket, key = split_uri(uri)
    return f"{bucket}/{key}".rstrip("/")


@dataclass(frozen=True)
class Layout:
    """The layout bound to one stack's buckets and its object store's URI scheme."""

    outputs: StackOutputs
    scheme: str = "s3"

    def bucket(self, zone: str) -> str:
        return self.outputs.bucket_for_zone(zone)

    def uri(self, bucket: str, key: str = "") -> str:
        """``<scheme>://<bucket>/<key>``."""
        return f"{self.scheme}://{bucket}/{key}"

    def zone_uri(self, zone: str, key: str = "") -> str:
        return self.uri(self.bucket(zone), key)

    def table_uri(self, zone: str, dataset: str) -> str:
        """The Delta table of ``dataset`` in ``zone`` (``curated`` or ``features``)."""
        return self.zone_uri(zone, table_key(dataset))

    def feature_table_uri(self, dataset: str) -> str:
        """The offline feature store: the versioned feature Delta table the jobs write and the catalog describes."""
        return self.table_uri("features", dataset)


def stream_quarantine_key(dataset: str, moment: datetime) -> str:
    """In the quarantine zone: one object of bad stream events (``<dataset>/stream/<UTC timestamp>.jsonl``)."""
    from datetime import UTC

    return f"{dataset}/stream/{moment.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.jsonl"


def job_run_key(job_name: str, run_id: str) -> str:
    """In the monitoring zone: the record of one batch job run the kit's local runner made."""
    return f"glue-runs/{job_name}/{run_id}.json"


def job_running_key(job_name: str, run_id: str) -> str:
    """In the monitoring zone: the (empty) marker of a run of the kit's local runner that has not ended; the runner
    deletes it with the run's final record, so the next run reads the records of the runs that have not ended, not
    every record the job ever had."""
    return f"glue-runs-running/{job_name}/{run_id}"


def catalog_table(dataset: str, zone: str) -> str:
    """The catalog table of ``dataset``'s Delta table in ``zone``: ``<dataset>_curated``, ``<dataset>_features``
    (the offline feature store's entry)."""
    return f"{dataset}_{zone}"


def predictions_key(dataset: str, model_version: str, job_name: str) -> str:
    """In the curated zone: the predictions dataset of one batch inference run, partitioned by model version
    (``predictions/<dataset>/model_version=<v>/<job>.parquet``)."""
    return f"predictions/{dataset}/model_version={model_version}/{job_name}.parquet"


def pipeline_execution_key(pipeline: str, execution_id: str) -> str:
    """In the monitoring zone: the record of one pipeline execution the kit's local pipeline executor ran."""
    return f"pipeline-executions/{pipeline}/{execution_id}.json"


def data_capture_prefix(base_key: str, endpoint: str, variant: str | None = None) -> str:
    """Under an endpoint config's ``DestinationS3Uri`` key: the capture of ``endpoint`` (and ``variant``), as
    SageMaker lays it out (``<base>/<endpoint>/<variant>/``)."""
    parts = [base_key.strip("/"), endpoint] + ([variant] if variant else [])
    return "/".join(p for p in parts if p) + "/"


def data_capture_key(base_key: str, endpoint: str, variant: str, moment: datetime, file_id: str) -> str:
    """One capture file, as SageMaker names it: ``<base>/<endpoint>/<variant>/yyyy/mm/dd/hh/mm-ss-mmm-<id>.jsonl``
    (UTC; the hour directory is the one a reader selects a time range by)."""
    from datetime import UTC

    when = moment.astimezone(UTC)
    name = f"{when:%M-%S}-{when.microsecond // 1000:03d}-{file_id}.jsonl"
    return f"{data_capture_prefix(base_key, endpoint, variant)}{when:%Y/%m/%d/%H}/{name}"


def baseline_key(job_name: str, name: str) -> str:
    """In the models zone: a drift-check baseline file (``statistics.json``, ``constraints.json``) of the model a
    training job produced."""
    return f"{training_job_prefix(job_name)}/output/baseline/{name}"


def model_monitor_prefix(dataset: str, source: str, schedule: str, when: datetime) -> str:
    """In the monitoring zone: one monitoring run's outputs (``statistics.json``, ``constraint_violations.json``,
    ``drift.json``, ``report.html``), laid out as Model Monitor's ``<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>``
    with the run's minute and second added so runs within an hour stay apart."""
    return f"model-monitor/{dataset}/{source}/{schedule}/{when.strftime('%Y/%m/%d/%H/%M%S')}/"


def model_monitor_root(dataset: str) -> str:
    """In the monitoring zone: every monitoring run of the dataset is below it."""
    return f"model-monitor/{dataset}/"


def ground_truth_key(dataset: str, when: datetime, name: str) -> str:
    """In the monitoring zone: one file of ground-truth labels in Model Monitor's layout
    (``groundtruth/<dataset>/<yyyy>/<mm>/<dd>/<hh>/<name>.jsonl``)."""
    return f"groundtruth/{dataset}/{when.strftime('%Y/%m/%d/%H')}/{name}.jsonl"


def ground_truth_prefix(dataset: str) -> str:
    return f"groundtruth/{dataset}/"


def stream_history_key(consumer: str, partition: str) -> str:
    """In the features zone: a stream consumer's per-entity history of one partition, saved with each commit."""
    return f"stream-state/{consumer}/{partition}.json"


ALARM_ACTIONS_PREFIX = "alarm-actions/"


def alarm_action_key(when: datetime, action_id: str) -> str:
    """In the monitoring zone: the record of one action an alarm's state change ran (``mlops monitor status``);
    keys sort by time."""
    return f"{ALARM_ACTIONS_PREFIX}{when.strftime('%Y%m%dT%H%M%S%fZ')}-{action_id}.json"


def pipeline_definition_key(pipeline: str) -> str:
    """In the artifacts zone: the stack-bound definition of a pipeline where no pipeline service stores it (the
    kit's executor on Google's emulators reads it; Vertex AI has no emulator)."""
    return f"pipelines/{pipeline}/definition.json"
