"""Streaming on Google Cloud: the events topic, a Cloud Storage subscription that lands every event in the raw
zone (Firehose's role), the consumers' ordered subscription, and a dead-letter topic both redeliver into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.gcp.components.base import GcpIdentity

COMPONENT = "streaming"
MAX_DELIVERY_ATTEMPTS = 5
ACK_DEADLINE_SECONDS = 60
CHECKPOINT_COLLECTION = "stream-checkpoints"
"""Firestore collection (in the online database) where consumers keep their positions (the checkpoint table)."""


@dataclass(frozen=True)
class GcpStreamingArgs:
    """Inputs of :class:`GcpStreaming`."""

    identity: GcpIdentity
    pubsub_key: pulumi.Output[str]
    raw_bucket: pulumi.Output[str]
    retention_hours: int
    buffer_seconds: int


class GcpStreaming(pulumi.ComponentResource):
    """Topics and subscriptions; names are what the event-stream adapter reads from the stack outputs."""

    topic: pulumi.Output[str]
    topic_id: pulumi.Output[str]
    dead_letter_topic: pulumi.Output[str]
    subscription: pulumi.Output[str]
    sink_subscription: pulumi.Output[str]

    def __init__(self, name: str, args: GcpStreamingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:streaming:Streaming", name, None, opts)
        ident = args.identity
        self._args = args
        retention = f"{args.retention_hours * 3600}s"
        topic = self._topic(f"{name}-events", "events", retention)
        dead = self._topic(f"{name}-dead-letter", "events-dead-letter", retention)
        dead_letter: Any = {"dead_letter_topic": dead.id, "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS}
        consumer = gcp.pubsub.Subscription(
            f"{name}-consumer",
            name=naming.resource_name(ident.project, ident.environment, "events-consumer", 255),
            project=ident.gcp_project,
            topic=topic.id,
            ack_deadline_seconds=ACK_DEADLINE_SECONDS,
            enable_message_ordering=True,
            message_retention_duration=retention,
            retain_acked_messages=True,
            expiration_policy={"ttl": ""},
            retry_policy={"minimum_backoff": "10s", "maximum_backoff": "600s"},
            dead_letter_policy=dead_letter,
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        sink = gcp.pubsub.Subscription(
            f"{name}-raw-sink",
            name=naming.resource_name(ident.project, ident.environment, "events-raw-sink", 255),
            project=ident.gcp_project,
            topic=topic.id,
            ack_deadline_seconds=ACK_DEADLINE_SECONDS,
            expiration_policy={"ttl": ""},
            cloud_storage_config=cast(
                Any,
                {
                    "bucket": args.raw_bucket,
                    "filename_prefix": "events/",
                    "filename_suffix": ".jsonl",
                    "max_duration": f"{max(args.buffer_seconds, 60)}s",
                    "max_bytes": 100 * 1024 * 1024,
                },
            ),
            dead_letter_policy=dead_letter,
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        kept = gcp.pubsub.Subscription(
            f"{name}-dead-letter-kept",
            name=naming.resource_name(ident.project, ident.environment, "events-dead-letter", 255),
            project=ident.gcp_project,
            topic=dead.id,
            message_retention_duration="604800s",
            expiration_policy={"ttl": ""},
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        agent = ident.agent("pubsub")
        # Pub/Sub's agent forwards undeliverable messages: publish to the dead-letter topic, ack on the sources.
        gcp.pubsub.TopicIAMMember(
            f"{name}-dead-letter-publisher",
            topic=dead.id,
            role="roles/pubsub.publisher",
            member=agent,
            opts=child(self),
        )
        for label, sub in (("consumer", consumer), ("raw-sink", sink)):
            gcp.pubsub.SubscriptionIAMMember(
                f"{name}-{label}-forwarder",
                subscription=sub.id,
                role="roles/pubsub.subscriber",
                member=agent,
                opts=child(self),
            )
        # The Cloud Storage subscription writes as the agent: create objects and read the bucket's metadata.
        for role in ("roles/storage.objectCreator", "roles/storage.legacyBucketReader"):
            gcp.storage.BucketIAMMember(
                f"{name}-raw-sink-{role.rsplit('.', 1)[-1].lower()}",
                bucket=args.raw_bucket,
                role=role,
                member=agent,
                opts=child(self),
            )
        self.topic, self.topic_id, self.dead_letter_topic = topic.name, topic.id, dead.name
        self.subscription, self.sink_subscription = consumer.name, sink.name
        self.dead_letter_subscription = kept.name
        self.register_outputs({"topic": self.topic, "subscription": self.subscription})

    def _topic(self, logical: str, purpose: str, retention: str) -> gcp.pubsub.Topic:
        ident = self._args.identity
        return gcp.pubsub.Topic(
            logical,
            name=naming.resource_name(ident.project, ident.environment, purpose, 255),
            project=ident.gcp_project,
            kms_key_name=self._args.pubsub_key,
            message_retention_duration=retention,
            message_storage_policy={"allowed_persistence_regions": [ident.region]},
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
