"""Just enough SQL lexing to route a ClickHouse HTTP request, on raw bytes.

ClickHouse parses the request itself; this endpoint has to know a few things *before* it hands
the text to chDB: which statement it is (does it produce a result set, may it stream),
which output format a trailing ``FORMAT`` clause picks (for the response headers), and, for an
``INSERT`` carrying inline data, where the statement ends and the data begins, so that the data
can be streamed into chDB instead of being read into memory with the statement.

The lexer skips string literals, quoted identifiers, comments and heredocs, and tracks bracket
depth, so a ``FORMAT`` inside ``format('{}', x)`` or a string is never taken for the clause.
It works on bytes because the data after an ``INSERT ... FORMAT Native`` is binary.

Nothing here decides what a request may do: readonly is the engine's (a readonly setting on
the handle) and what a statement may reach is access.py's, on the engine's own parse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from infra.clickhouse_http.formats import canonical_format


class Tok(Enum):
    """Token kinds the scanner distinguishes."""

    WORD = 1
    STRING = 2
    QUOTED = 3
    NUMBER = 4
    OPEN = 5
    CLOSE = 6
    SEMI = 7
    EQ = 8
    COMMA = 9
    OTHER = 10


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind and its byte span in the text."""

    kind: Tok
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class InsertData:
    """An INSERT whose data follows the statement in the same stream."""

    head: bytes  # the statement without its FORMAT clause or VALUES keyword
    format: str  # the input format of the data ("Values" for INSERT ... VALUES)
    data_offset: int  # where the data starts in the scanned text


@dataclass(frozen=True, slots=True)
class Statement:
    """What the endpoint needs to know about one request's statement."""

    keyword: str  # first keyword, upper-case ("" for an empty query)
    output_format: str | None = None  # canonical name from a trailing FORMAT clause
    insert: InsertData | None = None
    incomplete_insert: bool = False  # INSERT whose data part was not reached in the text
    set_names: frozenset[str] = frozenset()  # settings a SET statement assigns

    @property
    def is_empty(self) -> bool:
        """True when the text holds no statement at all (only blanks and comments)."""
        return not self.keyword

    @property
    def produces_result(self) -> bool:
        """True when ClickHouse answers the statement with a result set (X-ClickHouse-Format)."""
        return self.keyword in _RESULT_KEYWORDS


_RESULT_KEYWORDS = frozenset(
    {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK", "KILL", "WATCH"}
)

_SPACE = frozenset(b" \t\n\r\f\v")
# ClickHouse's lexer also skips these (U+0085, U+00A0, U+1680, U+2000-U+200B, U+2028, U+2029,
# U+202F, U+205F, U+3000, U+FEFF), so "\u00a0INSERT" is an INSERT here as it is there.
_UNICODE_BLANKS = (0x85, 0xA0, 0x1680, *range(0x2000, 0x200C), 0x2028, 0x2029, 0x202F, 0x205F)
_UNICODE_SPACES = tuple(chr(c).encode() for c in (*_UNICODE_BLANKS, 0x3000, 0xFEFF))
_WORD_START = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_") | frozenset(
    range(0x80, 0x100)
)
_WORD = _WORD_START | frozenset(b"0123456789$")
_DIGITS = frozenset(b"0123456789")
_NUMBER = _WORD | frozenset(b".")
_SINGLE = {
    ord("("): Tok.OPEN,
    ord("["): Tok.OPEN,
    ord(")"): Tok.CLOSE,
    ord("]"): Tok.CLOSE,
    ord(";"): Tok.SEMI,
    ord("="): Tok.EQ,
    ord(","): Tok.COMMA,
}


def _unicode_space(text: bytes, pos: int) -> int:
    """Length of the Unicode blank at pos, 0 if there is none."""
    return next((len(s) for s in _UNICODE_SPACES if text.startswith(s, pos)), 0)


def _skip_quoted(text: bytes, pos: int, quote: int) -> int:
    """End of a literal opened at pos: backslash escapes and doubled quotes, as ClickHouse."""
    n = len(text)
    i = pos + 1
    while i < n:
        c = text[i]
        if c == 0x5C:  # backslash
            i += 2
        elif c == quote:
            if i + 1 < n and text[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return n


def _skip_block_comment(text: bytes, pos: int) -> int:
    """End of a /* */ comment opened at pos; ClickHouse allows them nested."""
    depth = 0
    n = len(text)
    i = pos
    while i < n - 1:
        pair = text[i : i + 2]
        if pair == b"/*":
            depth += 1
            i += 2
        elif pair == b"*/":
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def _heredoc_end(text: bytes, pos: int) -> int | None:
    """End of a $tag$...$tag$ heredoc at pos, or None when pos does not open one."""
    close = text.find(b"$", pos + 1)
    if close < 0 or any(c not in _WORD - {ord("$")} for c in text[pos + 1 : close]):
        return None
    tag = text[pos : close + 1]
    end = text.find(tag, close + 1)
    return len(text) if end < 0 else end + len(tag)


def tokens(text: bytes, start: int = 0) -> Iterator[Token]:
    """Tokens of text from start; blanks and comments are skipped, an unclosed one ends it."""
    n = len(text)
    i = start
    while i < n:
        c = text[i]
        if c in _SPACE:
            i += 1
        elif c >= 0x80 and (space := _unicode_space(text, i)):
            i += space
        elif text.startswith(b"--", i) or text.startswith((b"# ", b"#!"), i):
            nl = text.find(b"\n", i)
            i = n if nl < 0 else nl + 1
        elif text.startswith(b"/*", i):
            i = _skip_block_comment(text, i)
        elif c in _WORD_START:
            j = i + 1
            while j < n and text[j] in _WORD and not (text[j] >= 0x80 and _unicode_space(text, j)):
                j += 1
            yield Token(Tok.WORD, i, j)
            i = j
        elif c in _DIGITS:
            j = i + 1
            while j < n and text[j] in _NUMBER:
                j += 1
            yield Token(Tok.NUMBER, i, j)
            i = j
        elif c == 0x27:  # '
            j = _skip_quoted(text, i, c)
            yield Token(Tok.STRING, i, j)
            i = j
        elif c in (0x22, 0x60):  # " `
            j = _skip_quoted(text, i, c)
            yield Token(Tok.QUOTED, i, j)
            i = j
        elif c == 0x24 and (end := _heredoc_end(text, i)) is not None:  # $
            yield Token(Tok.STRING, i, end)
            i = end
        else:
            yield Token(_SINGLE.get(c, Tok.OTHER), i, i + 1)
            i += 1


def _word(text: bytes, tok: Token) -> str:
    return text[tok.start : tok.end].decode("utf-8", "replace").upper()


def insert_data_offset(text: bytes, pos: int) -> int:
    """Where inline INSERT data starts after the format name ending at pos.

    ClickHouse's rule: skip spaces and tabs, then at most one line break; the data starts there.
    """
    n = len(text)
    while pos < n and text[pos] in b" \t\f":
        pos += 1
    if pos < n and text[pos] == 0x0D:
        pos += 1
    if pos < n and text[pos] == 0x0A:
        pos += 1
    return pos


def scan(text: bytes) -> Statement:
    """Describe the first statement of text (see the module docstring for what and why)."""
    toks = tokens(text)
    depth = 0  # a statement may open with brackets: "(SELECT 1) UNION ALL (SELECT 2)"
    for first in toks:
        if first.kind is not Tok.OPEN:
            break
        depth += 1
    else:
        return Statement(keyword="")
    keyword = _word(text, first) if first.kind is Tok.WORD else first.kind.name
    if keyword == "INSERT":
        return _scan_insert(text, toks)
    if keyword == "SET":
        return Statement(keyword=keyword, set_names=_set_names(text, toks))
    return Statement(keyword=keyword, output_format=_output_format(text, toks, depth))


def _scan_insert(text: bytes, toks: Iterator[Token]) -> Statement:
    depth = 0
    prev: Token | None = None
    for tok in toks:
        if tok.kind is Tok.OPEN:
            depth += 1
        elif tok.kind is Tok.CLOSE:
            depth -= 1
        elif tok.kind is Tok.SEMI and depth == 0:
            break
        elif tok.kind is Tok.WORD and depth == 0:
            word = _word(text, tok)
            after_name = prev is not None and (
                prev.kind is Tok.OTHER or _word(text, prev) in ("INTO", "TABLE")
            )
            if word in ("SELECT", "WITH", "INFILE") and not after_name:
                return Statement(keyword="INSERT")
            if word == "VALUES" and not after_name:
                head = text[: tok.start].rstrip()
                return Statement("INSERT", insert=InsertData(head, "Values", tok.end))
            if word == "FORMAT" and not after_name:
                fmt = next(toks, None)
                if fmt is None:
                    break
                if fmt.kind is not Tok.WORD:
                    return Statement(keyword="INSERT")
                name = text[fmt.start : fmt.end].decode("utf-8", "replace")
                offset = insert_data_offset(text, fmt.end)
                head = text[: tok.start].rstrip()
                return Statement("INSERT", insert=InsertData(head, name, offset))
        prev = tok
    return Statement(keyword="INSERT", incomplete_insert=True)


def _output_format(text: bytes, toks: Iterator[Token], depth: int) -> str | None:
    """Canonical name from a top-level ``FORMAT <name>`` that ends the statement.

    The clause must name a known output format and be followed by nothing but SETTINGS or the
    end, which keeps a column or function called ``format`` from being taken for it.
    """
    found: str | None = None
    pending: str | None = None  # a FORMAT <name> seen; valid only if nothing else follows
    expect_name = False
    for tok in toks:
        if tok.kind is Tok.SEMI and depth == 0:
            break
        if expect_name:
            expect_name = False
            if tok.kind is Tok.WORD:
                pending = canonical_format(text[tok.start : tok.end].decode("utf-8", "replace"))
                continue
        if pending is not None:
            if tok.kind is Tok.WORD and _word(text, tok) == "SETTINGS":
                found, pending = pending, None
            else:
                pending = None
        if tok.kind is Tok.OPEN:
            depth += 1
        elif tok.kind is Tok.CLOSE:
            depth -= 1
        elif tok.kind is Tok.WORD and depth == 0 and _word(text, tok) == "FORMAT":
            expect_name = True
    return pending if pending is not None else found


def _set_names(text: bytes, toks: Iterator[Token]) -> frozenset[str]:
    """The setting names a ``SET a = 1, b = 2`` statement assigns."""
    names: set[str] = set()
    prev: Token | None = None
    depth = 0
    for tok in toks:
        if tok.kind is Tok.OPEN:
            depth += 1
        elif tok.kind is Tok.CLOSE:
            depth -= 1
        elif tok.kind is Tok.SEMI and depth == 0:
            break
        elif tok.kind is Tok.EQ and depth == 0 and prev is not None:
            if prev.kind is Tok.WORD:
                names.add(text[prev.start : prev.end].decode("utf-8", "replace"))
            elif prev.kind is Tok.QUOTED:
                names.add(text[prev.start + 1 : prev.end - 1].decode("utf-8", "replace"))
        prev = tok
    return frozenset(names)


def quote_value(value: str) -> str:
    """A SQL string literal; ClickHouse parses it into the setting's own type."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    """A backquoted identifier."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
