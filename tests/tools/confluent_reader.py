"""Reads a topic netkpi wrote with the `confluent` output framing the way a Kafka user's
application does: confluent-kafka's consumer and its AvroDeserializer, which looks each record's
schema id up in the schema registry. Prints every record as one JSON line (read_committed, from
the beginning to the end of every partition).

usage: confluent_reader.py BROKERS REGISTRY_URL TOPIC
"""

import datetime
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def plain(value):
    """JSON for what fastavro gives logical types: timestamp-millis as epoch milliseconds."""
    if isinstance(value, datetime.datetime):
        return round(value.timestamp() * 1000)
    raise TypeError(f"{type(value).__name__} is not JSON")


def main():
    brokers, registry, topic = sys.argv[1:4]
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": "netkpi-confluent-reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    at_end = set()
    deadline = time.monotonic() + 60
    while len(at_end) < len(partitions) and time.monotonic() < deadline:
        m = consumer.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(m.partition())
                continue
            raise SystemExit(f"consumer error: {m.error()}")
        value = deserialize(m.value(), SerializationContext(topic, MessageField.VALUE))
        print(json.dumps(value, sort_keys=True, default=plain))
    consumer.close()
    if len(at_end) < len(partitions):
        raise SystemExit("did not reach the end of every partition within 60 s")


if __name__ == "__main__":
    main()
