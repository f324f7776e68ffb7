"""The deployment's Kafka security settings (librdkafka keys) as faust ``broker_credentials``.

Every other client of the project is confluent-kafka and takes ``Endpoints.kafka_config`` as
is; faust talks to the brokers through aiokafka, which has its own names. ``parse_security``
(pure) reads the librdkafka keys into a ``KafkaSecurity`` record; ``broker_credentials``
turns that into ``faust.SASLCredentials`` / ``faust.SSLCredentials`` with an
``ssl.SSLContext``. A security key this cannot translate is refused, never dropped: dropping
one would connect with less protection than the operator configured.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import faust
from faust.types.auth import CredentialsT

from stream_processors.readmodels.errors import KafkaSecurityError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
"""SASL mechanisms with a username and password (GSSAPI/OAUTHBEARER need callbacks)."""
ENDPOINT_CHECKS = ("https", "none")

SECURITY_KEYS = frozenset(
    {
        "security.protocol",
        "sasl.mechanism",
        "sasl.mechanisms",
        "sasl.username",
        "sasl.password",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.password",
        "ssl.endpoint.identification.algorithm",
    }
)
SECURITY_PREFIXES = ("security.", "sasl.", "ssl.", "enable.ssl.")
"""Keys under these prefixes change how a client authenticates or encrypts: each must be one
faust can honour. Other librdkafka keys (acks, linger.ms, ...) tune confluent-kafka clients;
faust has its own settings for those, so they are not its business here."""


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How a client authenticates to the brokers and verifies them."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: str | None = None
    ca_location: str | None = None
    certificate_location: str | None = None
    key_location: str | None = None
    key_password: str | None = None
    check_hostname: bool = True

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def __repr__(self) -> str:  # the passwords stay out of logs and tracebacks
        return (
            f"KafkaSecurity(protocol={self.protocol!r}, mechanism={self.mechanism!r}, "
            f"username={self.username!r}, ca_location={self.ca_location!r}, "
            f"certificate_location={self.certificate_location!r})"
        )


def _choice(key: str, value: str, allowed: tuple[str, ...], *, upper: bool) -> str:
    norm = value.strip().upper() if upper else value.strip().lower()
    if norm not in allowed:
        raise KafkaSecurityError(
            f"kafka_config key {key!r} = {value!r} is not supported by the read models "
            f"(faust/aiokafka); allowed: {', '.join(allowed)}"
        )
    return norm


def parse_security(config: Mapping[str, str]) -> KafkaSecurity:
    """The security part of a librdkafka config; KafkaSecurityError names any key it refuses."""
    for key in config:
        if key.startswith(SECURITY_PREFIXES) and key not in SECURITY_KEYS:
            raise KafkaSecurityError(
                f"kafka_config key {key!r} cannot be translated for the read models "
                f"(faust/aiokafka); supported security keys: {', '.join(sorted(SECURITY_KEYS))}"
            )
    get = config.get
    protocol = _choice(
        "security.protocol", get("security.protocol", "PLAINTEXT"), PROTOCOLS, upper=True
    )
    mech_key = "sasl.mechanisms" if "sasl.mechanisms" in config else "sasl.mechanism"
    both = [config[k].strip().upper() for k in ("sasl.mechanism", "sasl.mechanisms") if k in config]
    if len(set(both)) > 1:
        raise KafkaSecurityError(
            "kafka_config keys 'sasl.mechanism' and 'sasl.mechanisms' disagree; give one"
        )
    mechanism = get(mech_key)
    check = _choice(
        "ssl.endpoint.identification.algorithm",
        get("ssl.endpoint.identification.algorithm", "https"),
        ENDPOINT_CHECKS,
        upper=False,
    )
    security = KafkaSecurity(
        protocol=protocol,
        mechanism=_choice(mech_key, mechanism, MECHANISMS, upper=True) if mechanism else None,
        username=get("sasl.username"),
        password=get("sasl.password"),
        ca_location=get("ssl.ca.location"),
        certificate_location=get("ssl.certificate.location"),
        key_location=get("ssl.key.location"),
        key_password=get("ssl.key.password"),
        check_hostname=check == "https",
    )
    _check_consistent(security, config)
    return security


def _check_consistent(s: KafkaSecurity, config: Mapping[str, str]) -> None:
    """Refuse settings the chosen protocol would silently ignore."""
    sasl_keys = [k for k in config if k.startswith("sasl.")]
    ssl_keys = [k for k in config if k.startswith("ssl.")]
    if not s.sasl and sasl_keys:
        raise KafkaSecurityError(
            f"kafka_config key {sasl_keys[0]!r} needs security.protocol SASL_SSL or "
            f"SASL_PLAINTEXT, not {s.protocol}"
        )
    if not s.tls and ssl_keys:
        raise KafkaSecurityError(
            f"kafka_config key {ssl_keys[0]!r} needs security.protocol SSL or SASL_SSL, "
            f"not {s.protocol}"
        )
    if s.sasl:
        for key, value in (("sasl.username", s.username), ("sasl.password", s.password)):
            if not value:
                raise KafkaSecurityError(f"kafka_config key {key!r} is required with {s.protocol}")
        if s.mechanism is None:
            raise KafkaSecurityError(
                f"kafka_config key 'sasl.mechanism' is required with {s.protocol}; "
                f"allowed: {', '.join(MECHANISMS)}"
            )
    if (s.certificate_location is None) != (s.key_location is None):
        raise KafkaSecurityError(
            "kafka_config keys 'ssl.certificate.location' and 'ssl.key.location' go together "
            "(a client certificate needs its key)"
        )
    if s.key_password is not None and s.key_location is None:
        raise KafkaSecurityError("kafka_config key 'ssl.key.password' needs 'ssl.key.location'")


def ssl_context(s: KafkaSecurity) -> ssl.SSLContext:
    """A client context that verifies the brokers (and presents a certificate for mTLS)."""
    ca = s.ca_location
    try:
        if ca is None or ca == "probe":
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        elif Path(ca).is_dir():
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, capath=ca)
        else:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(
            f"kafka_config key 'ssl.ca.location' = {ca!r} cannot be loaded: {exc}"
        ) from exc
    context.check_hostname = s.check_hostname
    if s.certificate_location is not None:
        try:
            context.load_cert_chain(s.certificate_location, s.key_location, s.key_password)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecurityError(
                "kafka_config keys 'ssl.certificate.location' / 'ssl.key.location' "
                f"({s.certificate_location!r}, {s.key_location!r}) cannot be loaded: "
                f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc.args[-1]}"
            ) from exc
    return context


def broker_credentials(config: Mapping[str, str]) -> CredentialsT | None:
    """faust ``broker_credentials`` for a librdkafka config; None for PLAINTEXT."""
    s = parse_security(config)
    context = ssl_context(s) if s.tls else None
    if s.sasl:
        return faust.SASLCredentials(
            username=s.username,
            password=s.password,
            mechanism=s.mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
