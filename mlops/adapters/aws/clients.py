"""One factory for everything that talks to AWS: boto3 clients, pyarrow's S3 filesystem, delta-rs and MLflow.

The endpoint and credentials follow the settings' target:

- ``moto``: the embedded server's endpoint, which the wiring finds (``mlops local up`` records it) and hands in
  as ``endpoint_url``; or the ``endpoint_url`` setting; dummy credentials;
- ``localstack``: ``localstack-client``'s conventions (``LOCALSTACK_HOST``, ``AWS_ENDPOINT_URL``), dummy credentials;
- ``aws``: the default credential chain (or ``aws_profile``) and AWS's own endpoints;
- any target, after :meth:`ClientFactory.assume_role`: the role's temporary credentials.

Nothing is created at import time; clients are created on first use and cached per service. boto3 itself is
imported on first use too: a command that only needs the factory's endpoint (``mlops predict`` on the local front
door) does not pay for loading the AWS SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mlops.errors import CredentialsError, EmulatorError
from mlops.settings import Settings

if TYPE_CHECKING:
    import boto3

EMULATOR_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
_RETRIES = {"retries": {"mode": "standard", "max_attempts": 5}, "connect_timeout": 5, "read_timeout": 60}
# The services the kit's code creates clients for (what a warm process parses once for the processes it forks).
SERVICES = (
    "s3", "sagemaker", "sagemaker-runtime", "glue", "dynamodb", "kinesis", "cloudwatch", "logs", "events", "sts",
    "sns", "iam", "kms", "ec2", "ecr", "application-autoscaling", "firehose",
)  # fmt: skip

# botocore's data loader (service models, endpoints: parsed JSON) shared by every session of this process: each
# session would otherwise parse the same files again (a new session's clients cost 0.25 s, a shared loader's 0.03).
_shared: dict[str, Any] = {}


def share_loader(loader: Any) -> None:
    """Use ``loader`` for this process's sessions (one a warm process filled before it forked this one)."""
    _shared["loader"] = loader


def utc_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser for the kit's clients: an epoch number (what the JSON protocols send: each
    Kinesis record's ``ApproximateArrivalTimestamp``, CloudWatch's datapoints) becomes an aware UTC datetime in
    ~1.5 µs, where botocore builds a local time zone per value (~26 µs: 0.75 s of the CPU of a 29,000-record
    GetRecords backlog). The instant is the same; anything else goes to botocore's parser."""
    from botocore.utils import parse_timestamp

    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            pass  # out of the platform's range: botocore's fallbacks
    parsed: datetime = parse_timestamp(value)
    return parsed


def boto3_session(**kwargs: Any) -> boto3.session.Session:
    """``boto3.session.Session(**kwargs)`` on a botocore session with the process's shared data loader (the first
    session's, which honours its ``data_path``) and :func:`utc_timestamp` as its timestamp parser."""
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=utc_timestamp)
    if "loader" in _shared:
        core.register_component("data_loader", _shared["loader"])
    else:
        share_loader(core.get_component("data_loader"))
    session = boto3.session.Session(botocore_session=core, **kwargs)
    paths = _shared["loader"].search_paths  # boto3 adds its own data folder once per session
    paths[:] = list(dict.fromkeys(paths))
    return session


def filled_loader(services: tuple[str, ...] = SERVICES) -> Any:
    """This process's shared data loader with ``services``' models parsed (clients made, no request sent)."""
    session = boto3_session(region_name="us-east-1", **EMULATOR_CREDENTIALS)
    for service in services:
        session.client(service, endpoint_url="http://127.0.0.1:9")
    return _shared["loader"]


class ClientFactory:
    """Creates AWS clients for one settings object; thread-safe, lazy and cached."""

    def __init__(
        self, settings: Settings, endpoint_url: str | None = None, *, assumed: Mapping[str, str] | None = None
    ) -> None:
        self.settings = settings
        self._endpoint_url = endpoint_url
        self._assumed = dict(assumed) if assumed else None
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    @cached_property
    def endpoint_url(self) -> str | None:
        """The endpoint every service is reached at, ``None`` for real AWS."""
        if self.settings.endpoint_url:
            return self.settings.endpoint_url
        if self._endpoint_url:
            return self._endpoint_url
        if self.settings.target == "aws":
            return None
        if self.settings.target == "localstack":
            from localstack_client.config import get_service_endpoint

            endpoint: str | None = get_service_endpoint("edge")
            return endpoint
        raise EmulatorError(
            f"the embedded emulator is not running (no state in {self.settings.emulator_dir}): run `mlops local up`"
        )

    @property
    def is_emulated(self) -> bool:
        return self.settings.target != "aws"

    @cached_property
    def session(self) -> boto3.session.Session:
        region = self.settings.region
        if self._assumed is not None:
            return boto3_session(region_name=region, **self._assumed)
        if self.is_emulated:
            return boto3_session(region_name=region, **EMULATOR_CREDENTIALS)
        return boto3_session(region_name=region, profile_name=self.settings.aws_profile)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service``, created once (boto3 clients are thread-safe, sessions are not)."""
        from botocore.config import Config

        with self._lock:
            if service not in self._clients:
                config = Config(**_RETRIES)
                self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url, config=config)
            return self._clients[service]

    def assume_role(self, role_arn: str, session_name: str) -> ClientFactory:
        """A factory for the same endpoint whose clients act as ``role_arn`` (STS ``AssumeRole`` with this
        factory's credentials; the session lasts an hour, as long as the role allows). The promotion reads the
        previous stack this way: its MLflow server takes no resource policy, only its own account's roles."""
        from botocore.exceptions import ClientError

        try:
            granted = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        except ClientError as exc:
            raise CredentialsError(f"cannot assume role {role_arn}: {exc}") from exc
        assumed = {
            "aws_access_key_id": granted["AccessKeyId"],
            "aws_secret_access_key": granted["SecretAccessKey"],
            "aws_session_token": granted["SessionToken"],
        }
        return ClientFactory(self.settings, self._endpoint_url or self.endpoint_url, assumed=assumed)

    def credentials(self) -> dict[str, str]:
        """Access key, secret and (for temporary credentials) session token of the active session."""
        frozen = self.session.get_credentials()
        if frozen is None:
            raise CredentialsError(
                "no AWS credentials found for the aws target: set MLOPS_AWS_PROFILE, AWS_PROFILE or AWS_* variables"
            )
        creds = frozen.get_frozen_credentials()
        out = {"access_key": creds.access_key, "secret_key": creds.secret_key}
        if creds.token:
            out["session_token"] = creds.token
        return out

    def arrow_filesystem(self) -> Any:
        """A ``pyarrow.fs.S3FileSystem`` for the same endpoint (used by jobs, pandas and Spark staging)."""
        from pyarrow import fs

        kwargs: dict[str, Any] = {"region": self.settings.region, **self.credentials()}
        if self.endpoint_url:
            scheme, _, host = self.endpoint_url.partition("://")
            kwargs.update(endpoint_override=host, scheme=scheme)
        return fs.S3FileSystem(**kwargs)

    def storage_options(self) -> dict[str, str]:
        """Object-store options for delta-rs (``deltalake``) in its own ``AWS_*`` key names."""
        creds = self.credentials()
        options = {
            "AWS_REGION": self.settings.region,
            "AWS_ACCESS_KEY_ID": creds["access_key"],
            "AWS_SECRET_ACCESS_KEY": creds["secret_key"],
        }
        if "session_token" in creds:
            options["AWS_SESSION_TOKEN"] = creds["session_token"]
        if self.endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.endpoint_url
            options["AWS_ALLOW_HTTP"] = "true"
        return options

    def subprocess_env(self) -> dict[str, str]:
        """Environment for a child process (Glue script, training entry point, MLflow) to reach the same AWS.

        boto3 honours ``AWS_ENDPOINT_URL``; MLflow's S3 artifact store reads ``MLFLOW_S3_ENDPOINT_URL``.
        """
        env = {"AWS_DEFAULT_REGION": self.settings.region, "AWS_REGION": self.settings.region}
        if self._assumed is not None:
            env.update({key.upper(): value for key, value in self._assumed.items()})
        elif self.is_emulated:
            env["AWS_ACCESS_KEY_ID"] = EMULATOR_CREDENTIALS["aws_access_key_id"]
            env["AWS_SECRET_ACCESS_KEY"] = EMULATOR_CREDENTIALS["aws_secret_access_key"]
        elif self.settings.aws_profile:
            env["AWS_PROFILE"] = self.settings.aws_profile
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
            env["MLFLOW_S3_ENDPOINT_URL"] = self.endpoint_url
        return env
