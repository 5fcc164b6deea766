"""Streaming on Google Cloud: one topic per partition (``<stream>.partition-NNNN``, the event-stream adapter's
layout: a record goes to the topic its key hashes to), a Cloud Storage subscription per partition that lands every
event in the raw zone (Firehose's role), and a dead-letter topic those subscriptions redeliver into.

Consumers' subscriptions (``<topic>.<consumer>``, ordered) are the adapter's: it creates one when a consumer first
subscribes (``mlops/adapters/gcp/pubsub.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.base import child
from infra.gcp import naming as gcp_naming
from infra.gcp.components.base import GcpIdentity

COMPONENT = "streaming"
MAX_DELIVERY_ATTEMPTS = 5
ACK_DEADLINE_SECONDS = 60
SINK = "raw-sink"
CHECKPOINT_COLLECTION = "stream-checkpoints"
"""Firestore collection (in the online database) where consumers keep their positions (the checkpoint table)."""


@dataclass(frozen=True)
class GcpStreamingArgs:
    """Inputs of :class:`GcpStreaming`."""

    identity: GcpIdentity
    pubsub_key: pulumi.Output[str]
    raw_bucket: pulumi.Output[str]
    partitions: int
    retention_hours: int
    buffer_seconds: int


class GcpStreaming(pulumi.ComponentResource):
    """Topics and subscriptions; names are what the event-stream adapter reads from the stack outputs."""

    stream: str
    topics: list[pulumi.Output[str]]
    sink_subscriptions: list[pulumi.Output[str]]
    dead_letter_topic: pulumi.Output[str]
    dead_letter_subscription: pulumi.Output[str]

    def __init__(self, name: str, args: GcpStreamingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:streaming:Streaming", name, None, opts)
        ident = args.identity
        self._args = args
        retention = f"{args.retention_hours * 3600}s"
        self.stream = naming.resource_name(ident.project, ident.environment, "events", 200)
        dead = self._topic(f"{name}-dead-letter", dead_name(self.stream), retention)
        kept = gcp.pubsub.Subscription(
            f"{name}-dead-letter-kept",
            name=f"{dead_name(self.stream)}.kept",
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
        # The Cloud Storage subscriptions write as the agent: create objects and read the bucket's metadata.
        for role in ("roles/storage.objectCreator", "roles/storage.legacyBucketReader"):
            gcp.storage.BucketIAMMember(
                f"{name}-raw-sink-{role.rsplit('.', 1)[-1].lower()}",
                bucket=args.raw_bucket,
                role=role,
                member=agent,
                opts=child(self),
            )
        self.topics, self.sink_subscriptions = [], []
        for number in range(args.partitions):
            topic_name = gcp_naming.partition_topic(self.stream, number)
            topic = self._topic(f"{name}-partition-{number}", topic_name, retention)
            sink = self._sink(f"{name}-partition-{number}", topic, topic_name, dead, number)
            self.topics.append(topic.name)
            self.sink_subscriptions.append(sink.name)
        self.dead_letter_topic, self.dead_letter_subscription = dead.name, kept.name
        self.register_outputs({"topics": self.topics, "sinks": self.sink_subscriptions})

    def _sink(
        self, logical: str, topic: gcp.pubsub.Topic, topic_name: str, dead: gcp.pubsub.Topic, number: int
    ) -> gcp.pubsub.Subscription:
        ident, args = self._args.identity, self._args
        sink = gcp.pubsub.Subscription(
            f"{logical}-{SINK}",
            name=f"{topic_name}.{SINK}",
            project=ident.gcp_project,
            topic=topic.id,
            ack_deadline_seconds=ACK_DEADLINE_SECONDS,
            expiration_policy={"ttl": ""},
            cloud_storage_config=cast(
                Any,
                {
                    "bucket": args.raw_bucket,
                    "filename_prefix": f"events/partition-{number:04d}/",
                    "filename_suffix": ".jsonl",
                    "max_duration": f"{max(args.buffer_seconds, 60)}s",
                    "max_bytes": 100 * 1024 * 1024,
                },
            ),
            dead_letter_policy={"dead_letter_topic": dead.id, "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS},
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )
        gcp.pubsub.SubscriptionIAMMember(
            f"{logical}-{SINK}-forwarder",
            subscription=sink.id,
            role="roles/pubsub.subscriber",
            member=ident.agent("pubsub"),
            opts=child(self),
        )
        return sink

    def _topic(self, logical: str, topic_name: str, retention: str) -> gcp.pubsub.Topic:
        ident = self._args.identity
        return gcp.pubsub.Topic(
            logical,
            name=topic_name,
            project=ident.gcp_project,
            kms_key_name=self._args.pubsub_key,
            message_retention_duration=retention,
            message_storage_policy={"allowed_persistence_regions": [ident.region]},
            labels=ident.labels(COMPONENT),
            opts=child(self),
        )


def dead_name(stream: str) -> str:
    """The dead-letter topic of a stream (not a partition: the adapter lists only ``<stream>.partition-*``)."""
    return f"{stream}-dead-letter"
