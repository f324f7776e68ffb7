"""Input limits of the registry: how deep a JSON document may nest, measured without recursion.

Python's ``json`` module and both Avro libraries recurse once per nesting level, so a document
a few thousand levels deep ends in ``RecursionError`` (a 500, or worse in C code). The depth is
therefore measured first, in O(n) with C-speed passes (regex and ``itertools``, no Python loop
per character), and anything deeper than :data:`MAX_JSON_DEPTH` is refused before it is parsed.

Why 100: a nested record costs four JSON levels (field, union, record, fields list), so 100
allows about 25 nested records, several times what real schemas use (the project's deepest,
Detections, needs 9), and the ``avro`` parser and compatibility checker stay far inside
Python's recursion limit (they were checked to 400 levels).
"""

from __future__ import annotations

import re
from itertools import accumulate

from schemas.registry.errors import InvalidSchemaError

MAX_JSON_DEPTH = 100

# A JSON string (brackets inside one do not nest), written so the regex engine never backtracks.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (0 for a scalar); O(n).

    Meant for text that is about to be parsed: on malformed JSON (an unterminated string) it
    may over-count, which only makes a document that the parser would reject anyway rejected
    sooner.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_depth(text: str, what: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise InvalidSchemaError (42201) when ``text`` nests deeper than ``limit``.

    ``what`` starts the message, e.g. ``"Invalid schema: the schema"``.
    """
    depth = json_depth(text)
    if depth > limit:
        raise InvalidSchemaError(f"{what} nests {depth} levels deep; the limit is {limit} levels")
