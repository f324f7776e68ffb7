#!/usr/bin/env bash
# One-shot, idempotent: SCRAM-SHA-512 users and least-privilege ACLs for vidsight and the schema
# registry. Runs as the super user kafka-admin (a TLS client certificate, CN=kafka-admin) over
# the brokers' mTLS INTERNAL listener, because SCRAM users cannot exist before this runs.
# Passwords are read from secret files into 0600 files on a tmpfs: never on a command line.
set -euo pipefail
umask 077

S=/etc/kafka/secrets            # the kafka-admin keystore/truststore and their passwords
BOOTSTRAP=kafka-1:9094,kafka-2:9094,kafka-3:9094
TMP=$(mktemp -d /dev/shm/kafka-init.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

cat >"$TMP/admin.properties" <<PROPS
security.protocol=SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=$S/kafka.keystore.p12
ssl.keystore.password=$(cat "$S/keystore_password")
ssl.key.password=$(cat "$S/key_password")
ssl.truststore.type=PKCS12
ssl.truststore.location=$S/kafka.truststore.p12
ssl.truststore.password=$(cat "$S/truststore_password")
PROPS
ADMIN=(--bootstrap-server "$BOOTSTRAP" --command-config "$TMP/admin.properties")

for _ in $(seq 1 60); do    # the brokers may still be starting
  /opt/kafka/bin/kafka-broker-api-versions.sh "${ADMIN[@]}" >/dev/null 2>&1 && break
  sleep 5
done

scram_user() {  # name, password file
  printf 'SCRAM-SHA-512=[iterations=8192,password=%s]\n' "$(cat "$2")" >"$TMP/scram.properties"
  /opt/kafka/bin/kafka-configs.sh "${ADMIN[@]}" --alter --entity-type users \
    --entity-name "$1" --add-config-file "$TMP/scram.properties"
  rm -f "$TMP/scram.properties"
}
acl() { /opt/kafka/bin/kafka-acls.sh "${ADMIN[@]}" --add --force "$@"; }

scram_user vidsight /run/secrets/kafka_vidsight_password
scram_user schema-registry /run/secrets/kafka_registry_password

# vidsight: its own topics and consumer groups (all named vidsight*: vidsight.*, the processor's
# and faust's changelogs, groups vidsight-*), nothing else; no cluster-wide rights.
acl --allow-principal User:vidsight --resource-pattern-type prefixed --topic vidsight \
  --operation Read --operation Write --operation Describe --operation DescribeConfigs \
  --operation Create
acl --allow-principal User:vidsight --resource-pattern-type prefixed --group vidsight \
  --operation Read --operation Describe
# schema registry: its _schemas topic and its election group only.
acl --allow-principal User:schema-registry --topic _schemas --operation Read --operation Write \
  --operation Describe --operation DescribeConfigs --operation Create
acl --allow-principal User:schema-registry --group schema-registry --operation Read \
  --operation Describe
echo "kafka-init: SCRAM users and ACLs in place"
