#!/bin/sh
# Creates the platform's topics (contracts/topics.py) and sets their configuration; safe to
# rerun. Run by the `kafka-topics` one-shot in deploy/compose.yaml and the `dn-create-topics`
# Job in Kubernetes, with the apache/kafka image's tools.
#
# Every topic is keyed by beneficiary_id (else the aggregate id): per-person order holds within
# a partition, and a consumer group scales up to DN_KAFKA_PARTITIONS members. Choose the count
# up front: adding partitions to a live topic moves keys to other partitions (order breaks for
# the events in flight), so this script never changes the count of an existing topic.
#
# Services also create missing topics at start (kit/topics.py) with the brokers' defaults; the
# `kafka-configs --alter` below corrects retention and min.insync.replicas of such a topic.
set -eu

BOOTSTRAP="${DN_KAFKA_BOOTSTRAP:?set DN_KAFKA_BOOTSTRAP}"
PARTITIONS="${DN_KAFKA_PARTITIONS:-12}"
REPLICATION="${DN_KAFKA_REPLICATION:-3}"
BIN=/opt/kafka/bin
if [ "$REPLICATION" -ge 3 ]; then MIN_ISR=2; else MIN_ISR=1; fi
FOREVER=-1          # canonical event logs: the source of every projection rebuild
WEEK=604800000      # intake and dead letters may hold personal data (docs/partners.md)

until "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1; do
  echo "waiting for Kafka at $BOOTSTRAP"; sleep 3
done

topic() {
  name="$1"; retention="$2"
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$name" --partitions "$PARTITIONS" --replication-factor "$REPLICATION" \
    --config "min.insync.replicas=$MIN_ISR" --config "retention.ms=$retention"
  "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter --entity-type topics \
    --entity-name "$name" --add-config "min.insync.replicas=$MIN_ISR,retention.ms=$retention"
}

topic dn.registration.events "$FOREVER"
topic dn.training.events "$FOREVER"
topic dn.orientation.events "$FOREVER"
topic dn.intake.registration "$WEEK"
topic dn.intake.training "$WEEK"
topic dn.intake.orientation "$WEEK"
topic dn.deadletter "$WEEK"

"$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --describe --topic 'dn\..*' || true
