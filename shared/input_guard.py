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

# A JSON string token, a number with a fraction or an exponent, or a long run of digits outside a
# string (strings are consumed first, so digits inside one never match the later alternatives).
_TOKENS = re.compile(
    rb'"(?:[^"\\]|\\.)*"'
    rb"|(?<![\d.eE+\-])-?\d+(?:\.\d+(?:[eE][+\-]?\d+)?|[eE][+\-]?\d+)"
    rb"|(?<![\d.eE+\-])-?\d{%d,}(?![\d.eE])" % (MAX_INTEGER_DIGITS + 1)
)
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")
_ESCAPED_NUL = re.compile(rb"\\u0000", re.IGNORECASE)


def json_problem(body: bytes, where: str = "the request body") -> str | None:
    """Why this JSON body is refused, or None, saying `where` it was found. Invalid JSON is left to the
    route's own parser."""
    if b"\x00" in body:
        return f"{_opening(where)} contains a NUL byte, which no field accepts."
    for token in _TOKENS.finditer(body):
        text = token.group()
        if text.startswith(b'"'):
            if _ESCAPED_NUL.search(text) and _decodes_to_nul(text):
                return f"A string in {where} contains a NUL character (\\u0000), which no field accepts."
        elif any(mark in text for mark in b".eE"):
            if not math.isfinite(float(text)):
                return f"A number in {where} ({text[:40].decode()}) is beyond the range of a double."
        else:
            return f"A number in {where} has more than {MAX_INTEGER_DIGITS} digits; integers must fit in 64 bits."
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(_STRINGS.sub(b'""', body)):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return f"{_opening(where)} is nested more than {MAX_JSON_DEPTH} levels deep."
    return None


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
