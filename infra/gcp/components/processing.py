"""Processing on Google Cloud: every ``jobs/*.py`` as a Dataproc Serverless batch started by Cloud Scheduler
(one schedule per job and dataset), the scripts and the kit's wheel uploaded under content-hashed keys, and the
batches' service account with access to exactly the buckets and dataset they use."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity, member
from infra.gcp.components.network import DATAPROC_TAG
from mlops.errors import ConfigError
from mlops.release.wheel import Wheel

COMPONENT = "processing"
RUNTIME_VERSION = "2.2"
DATAPROC_API = "https://dataproc.googleapis.com/v1"


def unix_cron(schedule: str) -> str:
    """The stack's schedule (AWS form ``cron(min hour dom month dow year)``, or already five fields) as the five
    fields Cloud Scheduler takes; ``?`` becomes ``*`` and the year goes."""
    body = schedule.strip()
    if body.startswith("cron(") and body.endswith(")"):
        fields = body[5:-1].split()
        if len(fields) != 6:
            raise ConfigError(f"schedule {schedule!r}: cron() needs six fields (min hour dom month dow year)")
        return " ".join(f.replace("?", "*") for f in fields[:5])
    if len(body.split()) == 5:
        return body
    raise ConfigError(f"schedule {schedule!r} is neither cron(...) nor a five-field cron expression")


def batch_request(spec: dict[str, Any]) -> str:
    """The Dataproc ``batches.create`` body Cloud Scheduler posts, base64-encoded as ``http_target.body`` wants."""
    return base64.b64encode(json.dumps(spec, sort_keys=True).encode()).decode()


def for_dataset(template: dict[str, Any], dataset: str) -> dict[str, Any]:
    """A job's batch (the ``dataproc_batches`` output) run for ``dataset``: ``--dataset`` after ``--JOB_NAME``, as
    the job runner adds it to a run, and a ``dataset`` label."""
    spec: dict[str, Any] = json.loads(json.dumps(template))
    args = spec["pysparkBatch"]["args"]
    spec["pysparkBatch"]["args"] = [*args[:1], f"--dataset={dataset}", *args[1:]]
    spec["labels"]["dataset"] = dataset.replace("_", "-")
    return spec


@dataclass(frozen=True)
class _Run:
    """One scheduled batch: the job script, the dataset it runs for, its batch and who starts it."""

    stem: str
    dataset: str
    batch: str
    template: pulumi.Output[dict[str, Any]]
    scheduler: pulumi.Output[str]


@dataclass(frozen=True)
class GcpProcessingArgs:
    """Inputs of :class:`GcpProcessing`."""

    identity: GcpIdentity
    scripts: dict[str, Path]
    kms_key: pulumi.Output[str]
    storage_key: pulumi.Output[str]
    artifacts_bucket: pulumi.Output[str]
    data_buckets: dict[str, pulumi.Output[str]]
    dataset_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    kit_wheel: Wheel
    datasets: tuple[str, ...]
    default_schedule: str
    schedules: dict[str, str]
    time_zone: str = "Etc/UTC"


class GcpProcessing(pulumi.ComponentResource):
    """Uploads, service accounts, IAM and one Cloud Scheduler job per job script and dataset."""

    service_account: pulumi.Output[str]
    batch_names: dict[str, str]
    batch_templates: dict[str, pulumi.Output[dict[str, Any]]]
    """Per job script, the ``batches.create`` body (REST form) without a dataset: what a job runner submits
    (:mod:`mlops.adapters.gcp.dataproc_batch`), adding the run's arguments."""
    schedule_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: GcpProcessingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:processing:Processing", name, None, opts)
        self._args = args
        ident = args.identity
        runner = gcp.serviceaccount.Account(
            f"{name}-dataproc-account",
            account_id=ident.account_id("dataproc"),
            display_name=f"{ident.environment} Dataproc batches",
            project=ident.gcp_project,
            opts=child(self),
        )
        scheduler = gcp.serviceaccount.Account(
            f"{name}-scheduler-account",
            account_id=ident.account_id("scheduler"),
            display_name=f"{ident.environment} Cloud Scheduler: starts the Dataproc batches",
            project=ident.gcp_project,
            opts=child(self),
        )
        self._grants(name, runner, scheduler)
        self.service_account = runner.email
        wheel = self._upload(
            f"{name}-kit-wheel",
            gcp_naming.wheel_key(args.kit_wheel.sha256, args.kit_wheel.file_name),
            args.kit_wheel.path,
        )
        self.batch_names, self.batch_templates, self.schedule_names = {}, {}, {}
        for stem, path in args.scripts.items():
            script = self._upload(
                f"{name}-script-{stem}",
                gcp_naming.script_key(stem, hashlib.sha256(path.read_bytes()).hexdigest()),
                path,
            )
            batch = gcp_naming.batch_name(ident.project, ident.environment, stem)
            self.batch_names[stem] = batch
            template = self._template(stem, batch, script, wheel, runner.email)
            self.batch_templates[stem] = template
            for dataset in args.datasets:
                job = self._schedule(name, _Run(stem, dataset, batch, template, scheduler.email))
                self.schedule_names[f"{stem}/{dataset}"] = job.name
        self.register_outputs(
            {"service_account": self.service_account, "batches": self.batch_names, "templates": self.batch_templates}
        )

    def _grants(self, name: str, runner: gcp.serviceaccount.Account, scheduler: gcp.serviceaccount.Account) -> None:
        ident, args = self._args.identity, self._args
        for zone, bucket in args.data_buckets.items():
            gcp.storage.BucketIAMMember(
                f"{name}-reads-writes-{zone}",
                bucket=bucket,
                role="roles/storage.objectUser",
                member=member(runner.email),
                opts=child(self),
            )
        gcp.storage.BucketIAMMember(
            f"{name}-reads-artifacts",
            bucket=args.artifacts_bucket,
            role="roles/storage.objectViewer",
            member=member(runner.email),
            opts=child(self),
        )
        gcp.bigquery.DatasetIamMember(
            f"{name}-catalog-editor",
            dataset_id=args.dataset_id,
            project=ident.gcp_project,
            role="roles/bigquery.dataEditor",
            member=member(runner.email),
            opts=child(self),
        )
        gcp.projects.IAMMember(
            f"{name}-dataproc-worker",
            project=ident.gcp_project,
            role="roles/dataproc.worker",
            member=member(runner.email),
            opts=child(self),
        )
        gcp.projects.IAMMember(
            f"{name}-scheduler-creates-batches",
            project=ident.gcp_project,
            role="roles/dataproc.editor",
            member=member(scheduler.email),
            opts=child(self),
        )
        # The scheduler starts batches that run as the runner account: it may act as that one account only.
        gcp.serviceaccount.IAMMember(
            f"{name}-scheduler-acts-as-runner",
            service_account_id=runner.name,
            role="roles/iam.serviceAccountUser",
            member=member(scheduler.email),
            opts=child(self),
        )

    def _upload(self, logical: str, key: str, path: Path) -> pulumi.Output[str]:
        uploaded = gcp.storage.BucketObject(
            logical,
            bucket=self._args.artifacts_bucket,
            name=key,
            source=pulumi.FileAsset(str(path)),
            kms_key_name=self._args.storage_key,
            opts=child(self),
        )
        return pulumi.Output.concat("gs://", uploaded.bucket, "/", uploaded.name)

    def _template(
        self,
        stem: str,
        batch: str,
        script: pulumi.Output[str],
        wheel: pulumi.Output[str],
        runner: pulumi.Output[str],
    ) -> pulumi.Output[dict[str, Any]]:
        ident, args = self._args.identity, self._args
        inputs = pulumi.Output.all(
            script,
            wheel,
            runner,
            args.subnet_id,
            args.kms_key,
            args.artifacts_bucket,
            args.dataset_id,
            *args.data_buckets.values(),
        )
        zones = list(args.data_buckets)

        def body(v: list[Any]) -> dict[str, Any]:
            buckets = dict(zip(zones, v[7:], strict=True))
            return {
                "pysparkBatch": {
                    "mainPythonFileUri": v[0],
                    "pythonFileUris": [v[1]],
                    # The names the job scripts take as arguments, as the Glue jobs get them.
                    "args": [
                        f"--JOB_NAME={batch}",
                        f"--curated_bucket={buckets['curated']}",
                        f"--features_bucket={buckets['features']}",
                        f"--glue_database={v[6]}",
                        f"--MLOPS_ENVIRONMENT={ident.environment}",
                    ],
                },
                "runtimeConfig": {"version": RUNTIME_VERSION},
                "environmentConfig": {
                    "executionConfig": {
                        "serviceAccount": v[2],
                        "subnetworkUri": v[3],
                        "networkTags": [DATAPROC_TAG],
                        "kmsKey": v[4],
                        "stagingBucket": v[5],
                    }
                },
                "labels": {**ident.labels(COMPONENT), "job": stem.replace("_", "-")},
            }

        return inputs.apply(body)

    def _schedule(self, name: str, run: _Run) -> gcp.cloudscheduler.Job:
        stem, dataset, batch = run.stem, run.dataset, run.batch
        ident, args = self._args.identity, self._args
        return gcp.cloudscheduler.Job(
            f"{name}-schedule-{stem}-{dataset}",
            name=naming.resource_name(
                ident.project, ident.environment, f"{stem}-{dataset}-schedule".replace("_", "-"), 500
            ),
            project=ident.gcp_project,
            region=ident.region,
            description=f"Starts Dataproc batch {batch} for dataset {dataset}",
            schedule=unix_cron(args.schedules.get(stem, args.default_schedule)),
            time_zone=args.time_zone,
            http_target={
                "http_method": "POST",
                "uri": f"{DATAPROC_API}/projects/{ident.gcp_project}/locations/{ident.region}/batches",
                "body": run.template.apply(lambda t: batch_request(for_dataset(t, dataset))),
                "headers": {"Content-Type": "application/json"},
                "oauth_token": {
                    "service_account_email": run.scheduler,
                    "scope": "https://www.googleapis.com/auth/cloud-platform",
                },
            },
            retry_config={"retry_count": 1},
            opts=child(self),
        )
