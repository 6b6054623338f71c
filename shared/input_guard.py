"""What no route may receive, refused once at the edge for every route: NUL characters, JSON nested
deeper than any document we read, integers wider than 64 bits and numbers past double range.

PostgreSQL refuses 0x00 in text and `\\u0000` in JSONB, orjson refuses integers beyond 64 bits, a
literal such as 1e400 parses as infinity, which no JSON encoder writes back (the gap engine forwarding
such a credential to the verifier failed), and Python's parsers recurse per nesting level; each used
to surface deep inside a handler (after signing, at the outbox insert) as a 500. Checking the raw
request here gives one clear 422 instead, whatever the route.
"""

from __future__ import annotations

import json
import math
import re

MAX_JSON_DEPTH = 64
MAX_INTEGER_DIGITS = 19  # 2**63 has 19 digits: wider literals cannot be stored or signed faithfully

_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'  # a JSON string, unrolled: no alternation per character
# Strings and runs of number characters (a string is consumed whole first, so digits inside one never
# start a run): every alternative begins with a fixed character set, so the scan skips in C to the next
# candidate; the checks of each token are in Python, a few hundred per credential.
_TOKENS = re.compile(_STRING + rb"|-?\d[\d.eE+\-]*")
_STRINGS_AND_BRACKETS = re.compile(_STRING + rb"|[\[\]{}]")
_ESCAPED_NUL = re.compile(rb"\\u0000", re.IGNORECASE)
# A number the scan could refuse has a run of 20 digits or an exponent of three ([eE][+-]?\d{3}); a
# false alarm, as in a word, only costs the scan. Found as literals in the body's number shapes (every
# digit 0, E as e, - as +): a regular expression looking for them tried every position of a body in
# Python's engine, about 200 us for a 4.6 KB VC-JWT, where bytes.find is in C.
_NUMBER_SHAPES = bytes.maketrans(b"0123456789E-", b"0000000000e+")
_SUSPECT_SHAPES = (b"0" * (MAX_INTEGER_DIGITS + 1), b"e000", b"e+000")
_STRINGS = re.compile(_STRING)
_NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")
_AS_PAIRS = bytes.maketrans(b"[{]}", b"(())")


def json_problem(body: bytes, where: str = "the request body") -> str | None:
    """Why this JSON body is refused, or None, saying `where` it was found. Invalid JSON is left to the
    route's own parser.

    Most bodies have nothing to refuse, and that is found with searches that run in C: no `\u0000`;
    outside strings (cut out by the scan's own string pattern) no run of 20 digits (an integer too
    wide, or a number too long to be finite without an exponent) and no exponent of three digits (the
    only other way past double range); nesting within bounds (_shallow_enough). Only a body they cannot
    clear goes through the token scan, which took about 1.5 ms for a 17 KB credential, ten times
    parsing it (tests/shared/test_input_guard_fast.py holds the two to the same answers)."""
    if b"\x00" in body:
        return f"{_opening(where)} contains a NUL byte, which no field accepts."
    if _ESCAPED_NUL.search(body) is None:
        if not _may_hold_a_refused_number(body) and _too_few_openings_to_nest_too_deep(body):
            return None  # nothing suspect even inside strings
        outside_strings = _STRINGS.sub(b'""', body)
        if not _may_hold_a_refused_number(outside_strings) and _shallow_enough(outside_strings):
            return None
    return _scanned_problem(body, where)


def _scanned_problem(body: bytes, where: str) -> str | None:
    """The token by token scan: every string and number outside strings, then the nesting."""
    escaped_nul = _ESCAPED_NUL.search(body) is not None
    for token in _TOKENS.finditer(body):
        text = token.group()
        if text[0] == 0x22:  # a string
            if escaped_nul and _ESCAPED_NUL.search(text) and _decodes_to_nul(text):
                return f"A string in {where} contains a NUL character (\\u0000), which no field accepts."
        elif any(mark in text for mark in b".eE"):
            if not _finite(text):
                return f"A number in {where} ({text[:40].decode()}) is beyond the range of a double."
        elif len(text.lstrip(b"-")) > MAX_INTEGER_DIGITS and text.lstrip(b"-").isdigit():
            return f"A number in {where} has more than {MAX_INTEGER_DIGITS} digits; integers must fit in 64 bits."
    if _too_few_openings_to_nest_too_deep(body):
        return None
    depth = 0
    for token in _STRINGS_AND_BRACKETS.finditer(body):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return f"{_opening(where)} is nested more than {MAX_JSON_DEPTH} levels deep."
        elif bracket in (b"]", b"}"):
            depth -= 1
    return None


def _may_hold_a_refused_number(data: bytes) -> bool:
    shapes = data.translate(_NUMBER_SHAPES)
    return any(shape in shapes for shape in _SUSPECT_SHAPES)


def _too_few_openings_to_nest_too_deep(body: bytes) -> bool:
    """Counted inside strings or out: fewer openings than the bound cannot nest past it."""
    return body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH


def _shallow_enough(outside_strings: bytes) -> bool:
    """True when no bracket of this body (strings cut out) is nested deeper than MAX_JSON_DEPTH, False
    when deeper or unbalanced: the brackets kept alone, then the innermost pairs removed once a level."""
    skeleton = outside_strings.translate(_AS_PAIRS, _NOT_BRACKET)
    for _ in range(MAX_JSON_DEPTH):
        reduced = skeleton.replace(b"()", b"")
        if not reduced:
            return True
        if len(reduced) == len(skeleton):
            return False
        skeleton = reduced
    return False


def _finite(number: bytes) -> bool:
    try:
        return math.isfinite(float(number))
    except ValueError:
        return True  # not a valid number: the route's parser reports it


def _opening(where: str) -> str:
    return where[:1].upper() + where[1:]


def _decodes_to_nul(token: bytes) -> bool:
    try:
        return "\x00" in json.loads(token)
    except ValueError:
        return False  # not a valid string: the route's parser reports it


def text_problem(body: bytes, where: str = "the request body") -> str | None:
    """CSV, plain text and form bodies: no NUL byte, raw or percent-encoded."""
    if b"\x00" in body or b"%00" in body:
        return f"{_opening(where)} contains a NUL character, which no field accepts."
    return None


def upload_problem(data: bytes, content_type: str, where: str, *, as_text: bool = False) -> str | None:
    """A file from a multipart body, which the edge does not read into: screened as its media type says,
    or, when the route reads it as text whatever it was labelled (a CSV or a JSON file sent as
    octet-stream), as JSON if it opens like JSON and as text otherwise."""
    kind = body_kind(content_type)
    if as_text and kind is None:
        kind = "json" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") else "text"
    if kind == "json":
        return json_problem(data, where)
    if kind == "text":
        return text_problem(data, where)
    return None


def target_problem(raw_path: bytes, query_string: bytes) -> str | None:
    if b"%00" in raw_path or b"\x00" in raw_path:
        return "The URL path contains a NUL character (%00)."
    if b"%00" in query_string or b"\x00" in query_string:
        return "The query string contains a NUL character (%00)."
    return None


def body_kind(content_type: str) -> str | None:
    """Which scan a body gets from its media type; None for bodies that may be binary (images, multipart)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return "json"
    if media_type in ("application/x-www-form-urlencoded", "text/csv", "text/plain", "application/vc+jwt"):
        return "text"
    return None
