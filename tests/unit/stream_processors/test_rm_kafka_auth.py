"""The librdkafka security keys translated into faust broker credentials: SCRAM over TLS, mTLS,
and every key or combination faust could not honour refused with the key named (an attacker's
or a typo's downgrade to plaintext must not pass silently)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import ssl
from pathlib import Path

import faust
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from schemas.serde import InMemorySchemaResolver, Serde
from stream_processors.readmodels.app import create_app
from stream_processors.readmodels.errors import KafkaSecurityError
from stream_processors.readmodels.kafka_auth import broker_credentials, parse_security
from stream_processors.readmodels.settings import ReadModelSettings
from vidsight.errors import ConfigError

KEY_PASSWORD = "key-pass-for-tests"
SCRAM = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "vidsight",
    "sasl.password": "scram-pass-for-tests",
}


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA and a client certificate signed by it (key encrypted with KEY_PASSWORD)."""
    folder = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("vidsight-test-ca"))
        .issuer_name(_name("vidsight-test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("readmodels"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    paths = {n: str(folder / f"{n}.pem") for n in ("ca", "cert", "key")}
    Path(paths["ca"]).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    Path(paths["cert"]).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(paths["key"]).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
        )
    )
    return paths


def test_no_security_keys_means_plaintext_and_no_credentials() -> None:
    assert parse_security({}).protocol == "PLAINTEXT"
    # confluent-only tuning keys are not faust's business and do not stop the read models
    assert broker_credentials({"acks": "all", "linger.ms": "5"}) is None


def test_scram_over_tls_becomes_sasl_ssl_credentials(pki: dict[str, str]) -> None:
    creds = broker_credentials({**SCRAM, "ssl.ca.location": pki["ca"]})
    assert isinstance(creds, faust.SASLCredentials)
    auth = credentials_to_aiokafka_auth(creds)  # what faust hands to aiokafka
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert auth["sasl_plain_username"] == "vidsight"
    assert auth["sasl_plain_password"] == "scram-pass-for-tests"
    context = auth["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    cas = context.get_ca_certs()
    assert [dict(x[0] for x in c["subject"])["commonName"] for c in cas] == ["vidsight-test-ca"]


def test_mutual_tls_with_an_encrypted_key(pki: dict[str, str]) -> None:
    creds = broker_credentials(
        {
            "security.protocol": "ssl",  # librdkafka accepts any case
            "ssl.ca.location": pki["ca"],
            "ssl.certificate.location": pki["cert"],
            "ssl.key.location": pki["key"],
            "ssl.key.password": KEY_PASSWORD,
        }
    )
    assert isinstance(creds, faust.SSLCredentials)
    assert credentials_to_aiokafka_auth(creds)["security_protocol"] == "SSL"


def test_wrong_key_password_is_refused_naming_the_keys(pki: dict[str, str]) -> None:
    conf = {
        "security.protocol": "SSL",
        "ssl.certificate.location": pki["cert"],
        "ssl.key.location": pki["key"],
        "ssl.key.password": "wrong",
    }
    with pytest.raises(KafkaSecurityError, match=re.escape("ssl.key.location")) as info:
        broker_credentials(conf)
    assert "wrong" not in str(info.value)


def test_missing_ca_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    conf = {**SCRAM, "ssl.ca.location": str(tmp_path / "nope.pem")}
    with pytest.raises(KafkaSecurityError, match=re.escape("ssl.ca.location")):
        broker_credentials(conf)


def test_hostname_check_can_only_be_turned_off_explicitly(pki: dict[str, str]) -> None:
    base = {**SCRAM, "ssl.ca.location": pki["ca"]}
    assert parse_security(base).check_hostname
    off = parse_security({**base, "ssl.endpoint.identification.algorithm": "none"})
    assert not off.check_hostname


@pytest.mark.parametrize(
    "key",
    [
        "ssl.keystore.location",
        "ssl.truststore.location",
        "sasl.kerberos.service.name",
        "sasl.oauthbearer.config",
        "enable.ssl.certificate.verification",
        "security.providers",
        "ssl.cipher.suites",
    ],
)
def test_untranslatable_security_keys_are_refused_by_name(key: str) -> None:
    with pytest.raises(KafkaSecurityError, match=f"'{key}'"):
        parse_security({**SCRAM, key: "x"})


@pytest.mark.parametrize(
    ("conf", "named"),
    [
        ({"security.protocol": "TLS"}, "security.protocol"),
        ({**SCRAM, "sasl.mechanism": "GSSAPI"}, "sasl.mechanism"),
        (
            {**SCRAM, "sasl.mechanisms": "OAUTHBEARER", "sasl.mechanism": "OAUTHBEARER"},
            "sasl.mechanisms",
        ),
        ({**SCRAM, "ssl.endpoint.identification.algorithm": "maybe"}, "identification"),
        ({k: v for k, v in SCRAM.items() if k != "sasl.password"}, "sasl.password"),
        ({k: v for k, v in SCRAM.items() if k != "sasl.username"}, "sasl.username"),
        ({k: v for k, v in SCRAM.items() if k != "sasl.mechanism"}, "sasl.mechanism"),
        ({**SCRAM, "sasl.mechanisms": "PLAIN"}, "disagree"),
        # credentials or certificates a plaintext connection would silently not use
        ({**SCRAM, "security.protocol": "PLAINTEXT"}, "sasl."),
        ({"security.protocol": "SASL_PLAINTEXT", **{"ssl.ca.location": "/ca.pem"}}, "ssl.ca"),
        ({"security.protocol": "SSL", "ssl.certificate.location": "/c.pem"}, "go together"),
        ({"security.protocol": "SSL", "ssl.key.password": "x"}, "ssl.key.password"),
    ],
)
def test_inconsistent_settings_are_refused(conf: dict[str, str], named: str) -> None:
    with pytest.raises(KafkaSecurityError, match=re.escape(named)):
        parse_security(conf)


def test_the_error_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_security({"security.protocol": "nope"})


def test_repr_keeps_passwords_out() -> None:
    shown = repr(parse_security({**SCRAM, "sasl.password": "hunter2-secret"}))
    assert "hunter2-secret" not in shown and "vidsight" in shown


def test_faust_clients_connect_with_the_deployment_credentials(
    tmp_path: Path, pki: dict[str, str]
) -> None:
    settings = ReadModelSettings(
        data_dir=tmp_path,
        kafka_bootstrap="kafka-1:9092",
        kafka_config={**SCRAM, "ssl.ca.location": pki["ca"], "acks": "all"},
        web_port=7101,
    )
    app = create_app(settings, serde=Serde(InMemorySchemaResolver())).app

    async def build() -> list[tuple[str, str, str, bool]]:
        thread = app.consumer._thread  # type: ignore[attr-defined]
        consumer = thread._create_worker_consumer(app.transport)
        producer = app.producer._new_producer()  # type: ignore[attr-defined]
        try:
            return [
                (
                    c._security_protocol,
                    c._sasl_mechanism,
                    c._sasl_plain_username,
                    c._ssl_context is not None,
                )
                for c in (consumer._client, producer.client)
            ]
        finally:
            await consumer.stop()
            await producer.stop()

    for client in asyncio.run(build()):
        assert client == ("SASL_SSL", "SCRAM-SHA-512", "vidsight", True)
