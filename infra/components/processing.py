"""Processing: one Glue job per script in ``jobs/``, its uploaded script, a least-privilege role, schedules."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.components.base import StackIdentity, child, policy_json
from mlops.errors import ConfigError
from mlops.release.wheel import Wheel

COMPONENT = "processing"


def discover_job_scripts(jobs_dir: Path) -> dict[str, Path]:
    """Job scripts: ``jobs/*.py`` except private modules (``_*.py``, ``__init__.py``), keyed by file stem."""
    if not jobs_dir.is_dir():
        raise ConfigError(f"job scripts directory {jobs_dir} does not exist")
    return {path.stem: path for path in sorted(jobs_dir.glob("*.py")) if not path.name.startswith("_")}


def discover_datasets(datasets_dir: Path) -> dict[str, Path]:
    """Dataset definitions shipped with the kit (``<name>.yaml``), keyed by name: each gets scheduled job runs
    and is uploaded for the training pipeline."""
    if not datasets_dir.is_dir():
        raise ConfigError(f"dataset definitions directory {datasets_dir} does not exist")
    return {path.stem: path for path in sorted(datasets_dir.glob("*.yaml"))}


def python_modules() -> str:
    """Glue's ``--additional-python-modules``: the kit's third-party runtime needs, pinned to the tested versions."""
    return ",".join(f"{name}=={version(name)}" for name in ("deltalake",))


@dataclass(frozen=True)
class GlueNetwork:
    """Where Glue jobs run: one private subnet per zone (a NETWORK connection each) and the Glue security group."""

    subnet_ids: list[pulumi.Output[str]]
    zones: tuple[str, ...]
    security_group_id: pulumi.Output[str]


@dataclass(frozen=True)
class ProcessingArgs:
    """Inputs of :class:`Processing`. ``schedules`` maps a script stem to a cron expression overriding
    ``default_schedule``; naming a script that does not exist is an error."""

    identity: StackIdentity
    scripts: Mapping[str, Path]
    kms_key_arn: pulumi.Output[str]
    artifacts_bucket: pulumi.Output[str]
    curated_bucket: pulumi.Output[str]
    features_bucket: pulumi.Output[str]
    data_buckets: list[pulumi.Output[str]]
    database_name: pulumi.Output[str]
    log_group_name: str
    glue_version: str
    worker_type: str
    worker_count: int
    timeout_minutes: int
    default_schedule: str
    datasets: tuple[str, ...]
    network: GlueNetwork
    kit_wheel: Wheel
    """The kit's wheel (built by the program), uploaded under its digest and named by ``--extra-py-files``."""
    schedules: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.network.subnet_ids) != len(self.network.zones):
            raise ConfigError("processing needs the zone of every private subnet (one Glue connection per subnet)")
        if not self.datasets:
            raise ConfigError("processing needs at least one dataset definition to schedule its jobs for")
        unknown = sorted(set(self.schedules) - set(self.scripts))
        if unknown:
            raise ConfigError(
                f"glueSchedules names jobs without a script: {', '.join(unknown)}; "
                f"scripts: {', '.join(sorted(self.scripts)) or 'none'}"
            )


class Processing(pulumi.ComponentResource):
    """Glue ETL jobs, their scripts and the kit's wheel, uploaded under content-addressed keys."""

    role_arn: pulumi.Output[str]
    job_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ProcessingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:processing:Processing", name, None, opts)
        ident = args.identity
        tags = ident.tags(COMPONENT)
        role = aws.iam.Role(
            f"{name}-glue-role",
            name=naming.role_name(ident.project, ident.environment, "glue"),
            permissions_boundary=ident.permissions_boundary,
            assume_role_policy=policy_json(lambda: policies.assume_role_policy("glue.amazonaws.com")),
            tags=tags,
            opts=child(self),
        )
        acct = ident.account_id
        region = ident.region
        net = args.network
        connections = [
            aws.glue.Connection(
                f"{name}-network-{zone}",
                name=naming.glue_connection_name(ident.project, ident.environment, zone),
                description=f"Runs {ident.environment} Glue jobs in the private subnet of {zone}",
                connection_type="NETWORK",
                physical_connection_requirements={
                    "availability_zone": zone,
                    "subnet_id": subnet,
                    "security_group_id_lists": [net.security_group_id],
                },
                tags=tags,
                opts=child(self),
            )
            for zone, subnet in zip(net.zones, net.subnet_ids, strict=True)
        ]
        security = aws.glue.SecurityConfiguration(
            f"{name}-security-configuration",
            name=naming.glue_security_configuration_name(ident.project, ident.environment),
            encryption_configuration={
                "s3_encryption": {"s3_encryption_mode": "SSE-KMS", "kms_key_arn": args.kms_key_arn},
                "cloudwatch_encryption": {"cloudwatch_encryption_mode": "SSE-KMS", "kms_key_arn": args.kms_key_arn},
                "job_bookmarks_encryption": {
                    "job_bookmarks_encryption_mode": "CSE-KMS",
                    "kms_key_arn": args.kms_key_arn,
                },
            },
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{name}-glue-policy",
            role=role.id,
            policy=pulumi.Output.all(
                pulumi.Output.all(*args.data_buckets),
                args.artifacts_bucket,
                args.kms_key_arn,
                args.database_name,
                acct,
                pulumi.Output.all(*net.subnet_ids),
                net.security_group_id,
                pulumi.Output.all(*[c.name for c in connections]),
            ).apply(
                lambda v: policies.to_json(
                    policies.glue_job_policy(
                        list(v[0]),
                        v[1],
                        v[2],
                        [
                            f"arn:aws:glue:{region}:{v[4]}:catalog",
                            f"arn:aws:glue:{region}:{v[4]}:database/{v[3]}",
                            f"arn:aws:glue:{region}:{v[4]}:table/{v[3]}/*",
                        ],
                        f"arn:aws:logs:{region}:{v[4]}:log-group:{args.log_group_name}",
                        network=policies.NetworkPlacement(
                            region=region,
                            account_id=v[4],
                            subnet_ids=tuple(v[5]),
                            security_group_ids=(v[6],),
                            glue_connection_arns=tuple(f"arn:aws:glue:{region}:{v[4]}:connection/{c}" for c in v[7]),
                        ),
                    )
                )
            ),
            opts=child(self),
        )
        self.role_arn = role.arn
        self.job_names = {}
        wheel_object = aws.s3.BucketObjectv2(
            f"{name}-kit-wheel",
            bucket=args.artifacts_bucket,
            key=naming.glue_wheel_key(args.kit_wheel.sha256, args.kit_wheel.file_name),
            source=pulumi.FileAsset(str(args.kit_wheel.path)),
            server_side_encryption="aws:kms",
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child(self),
        )
        wheel = pulumi.Output.concat("s3://", wheel_object.bucket, "/", wheel_object.key)
        for stem, path in args.scripts.items():
            script = aws.s3.BucketObjectv2(
                f"{name}-script-{stem}",
                bucket=args.artifacts_bucket,
                key=naming.glue_script_key(stem, hashlib.sha256(path.read_bytes()).hexdigest()),
                source=pulumi.FileAsset(str(path)),
                server_side_encryption="aws:kms",
                kms_key_id=args.kms_key_arn,
                tags=tags,
                opts=child(self),
            )
            job = aws.glue.Job(
                f"{name}-job-{stem}",
                name=naming.glue_job_name(ident.project, ident.environment, stem),
                role_arn=role.arn,
                glue_version=args.glue_version,
                worker_type=args.worker_type,
                number_of_workers=args.worker_count,
                timeout=args.timeout_minutes,
                command={
                    "name": "glueetl",
                    "python_version": "3",
                    "script_location": pulumi.Output.concat("s3://", script.bucket, "/", script.key),
                },
                default_arguments={
                    "--job-language": "python",
                    # The kit's wheel, uploaded above: a new kit is a new key, so runs in flight keep theirs.
                    "--extra-py-files": wheel,
                    "--enable-continuous-cloudwatch-log": "true",
                    "--continuous-log-logGroup": args.log_group_name,
                    "--enable-metrics": "true",
                    "--additional-python-modules": python_modules(),
                    "--MLOPS_ENVIRONMENT": ident.environment,
                    # Resource names the job scripts take as arguments (see each script's docstring); the
                    # dataset is a per-run argument, set by the schedules below or by `mlops job run`.
                    "--curated_bucket": args.curated_bucket,
                    "--features_bucket": args.features_bucket,
                    "--glue_database": args.database_name,
                },
                execution_property={"max_concurrent_runs": 1},
                # Encrypts what the job writes to S3, its logs and its bookmarks with the stack's key.
                security_configuration=security.name,
                # In the private subnets; Glue uses the first connection and fails over to the next zone's.
                connections=[c.name for c in connections],
                tags=tags,
                opts=child(self),
            )
            for dataset in args.datasets:
                aws.glue.Trigger(
                    f"{name}-schedule-{stem}-{dataset}",
                    name=naming.resource_name(
                        ident.project, ident.environment, f"{stem}-{dataset}-schedule".replace("_", "-")
                    ),
                    type="SCHEDULED",
                    schedule=args.schedules.get(stem, args.default_schedule),
                    actions=[{"job_name": job.name, "arguments": {"--dataset": dataset}}],
                    tags=tags,
                    opts=child(self),
                )
            self.job_names[stem] = job.name
        self.register_outputs({"role_arn": self.role_arn, "job_names": self.job_names})
