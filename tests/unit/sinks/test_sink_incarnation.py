"""Topic ids as the stores key on them."""

from __future__ import annotations

from confluent_kafka import Uuid

from sinks.incarnation import UNKNOWN, incarnation


def test_a_topic_id_is_32_hex_digits() -> None:
    tid = Uuid(0x0123456789ABCDEF, 0x0FEDCBA987654321)
    assert incarnation(tid) == "0123456789abcdef0fedcba987654321"


def test_negative_halves_are_read_as_unsigned() -> None:
    assert incarnation(Uuid(-1, -2)) == "f" * 16 + "f" * 15 + "e"


def test_no_id_or_the_zero_id_is_unknown() -> None:
    assert incarnation(None) == UNKNOWN
    assert incarnation(Uuid(0, 0)) == UNKNOWN
