"""How ``vidsight sql`` prints results and server errors (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from sinks.sql import QueryResult, format_value, render_table, server_message


def test_table_aligns_text_left_and_numbers_right_with_a_row_count() -> None:
    result = QueryResult(
        ("camera_id", "label", "n"),
        ("String", "String", "UInt64"),
        [("gate-1", "person", 12), ("yard", "car", 3)],
    )
    assert render_table(result) == (
        "camera_id | label  |  n\n"
        "----------+--------+---\n"
        "gate-1    | person | 12\n"
        "yard      | car    |  3\n"
        "(2 rows)\n"
    )


def test_empty_result_still_has_a_header() -> None:
    text = render_table(QueryResult(("x",), ("UInt8",), []))
    assert text == "x\n-\n(0 rows)\n"


def test_values_print_readably() -> None:
    assert format_value(None) == "NULL"
    assert format_value(0.1 + 0.2) == "0.3"
    assert format_value(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05+00:00"
    assert format_value([1, None, "a"]) == "[1, NULL, a]"
    assert format_value(b"\xffab") == "\ufffdab"
    assert format_value(True) == "True"


def test_server_message_keeps_the_servers_words_only() -> None:
    raw = (
        "Received ClickHouse exception, code: 60, server response: Code: 60. DB::Exception: "
        "Unknown table expression identifier 'nope'. (UNKNOWN_TABLE) (version 26.9.2.1) "
        "(for url http://127.0.0.1:8123)"
    )
    assert server_message(Exception(raw)) == (
        "Code: 60. DB::Exception: Unknown table expression identifier 'nope'. (UNKNOWN_TABLE)"
    )
    assert server_message(Exception("connection refused")) == "connection refused"


SYNTAX = (
    "Code: 62. DB::Exception: Syntax error: failed at position {pos} ({tok}) (line 1, col {pos}): "
    "{tail}\n FORMAT Native. Expected one of: token sequence, Dot, token, OR, AND, IS NULL, "
    "IS NOT NULL, BETWEEN, NOT BETWEEN, LIKE, ILIKE. (SYNTAX_ERROR)"
)


def test_syntax_error_is_shown_on_the_users_query_not_the_clients() -> None:
    from sinks.sql import query_error

    shown = query_error("SELEC 1", SYNTAX.format(pos=7, tok="1", tail="1"))
    assert "FORMAT Native" not in shown
    assert shown.splitlines()[:3] == [
        "syntax error at line 1, column 7 (Code: 62, SYNTAX_ERROR):",
        "  SELEC 1",
        "        ^",
    ]
    assert shown.endswith("BETWEEN (and 3 more)")


def test_syntax_error_on_a_later_line_and_at_the_end() -> None:
    from sinks.sql import query_error

    query = "SELECT count()\nFROM detections WHERE"
    at_end = query_error(query, SYNTAX.format(pos=len(query) + 2, tok="FORMAT", tail="x"))
    assert at_end.splitlines()[:3] == [
        "syntax error at the end of the query (Code: 62, SYNTAX_ERROR):",
        "  FROM detections WHERE",
        "                       ^",
    ]
    query = "SELECT a,\n  , b FROM t"
    later = query_error(query, SYNTAX.format(pos=13, tok=",", tail=", b"))
    assert later.splitlines()[0] == "syntax error at line 2, column 3 (Code: 62, SYNTAX_ERROR):"
    assert later.splitlines()[2] == "    ^"


def test_other_errors_pass_through() -> None:
    from sinks.sql import query_error

    message = "Code: 60. DB::Exception: Unknown table expression identifier 'x'. (UNKNOWN_TABLE)"
    assert query_error("SELECT * FROM x", message) == message
