"""The edge's JSON screen clears most bodies with searches that run in C, and scans token by token only
what those cannot clear (shared/input_guard.py). The quick answer must be the scan's answer: here both
judge thousands of generated bodies, valid JSON and broken, each also changed at random, and a few
made to sit on the bounds."""

import json
import random
import re

import pytest

from shared.input_guard import MAX_JSON_DEPTH, _may_hold_a_refused_number, _scanned_problem, json_problem

_ALPHABET = 'ab[]{}",:\\01e9E.+-u '


def _string(rng: random.Random) -> str:
    choices = ["[", "]", "{", "}", '"', "\\", "x", "9" * rng.randint(1, 25), "e999", "\u00e9", "\\u0000"[1:]]
    return "".join(rng.choice(choices) for _ in range(rng.randint(0, 8)))


def _number(rng: random.Random) -> object:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randint(-(2**63), 2**63 - 1)
    if kind == 1:
        return rng.random() * 10 ** rng.randint(-300, 300)
    if kind == 2:
        return json.loads(f"{rng.randint(1, 9)}e{rng.randint(290, 330)}")  # parsed: finite or inf
    return rng.randint(0, 10**6)


def _value(rng: random.Random, depth: int) -> object:
    if depth <= 0 or rng.random() < 0.3:
        return _string(rng) if rng.random() < 0.6 else _number(rng)
    if rng.random() < 0.5:
        return [_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {_string(rng): _value(rng, depth - 1) for _ in range(rng.randint(0, 3))}


def _raw_number(rng: random.Random) -> bytes:
    return rng.choice([b"1e309", b"-2e400", b"12345678901234567890", b"1.5e308", b"9" * 320, b"0.5", b"7"])


def _bodies(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        depth = rng.choice([3, 6, 12, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, MAX_JSON_DEPTH + 5])
        body = json.dumps(_value(rng, 4), allow_nan=True).encode()
        opening = rng.choice([b"[", b'{"k":'])
        closing = b"]" if opening == b"[" else b"}"
        nested = opening * depth + body + closing * depth
        bodies.append(nested)
        spliced = bytearray(nested)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(spliced) + 1)
            spliced[at:at] = rng.choice([_raw_number(rng), rng.choice(_ALPHABET).encode(), b"\\u0000", b'"'])
        bodies.append(bytes(spliced))
        bodies.append(nested[: rng.randrange(len(nested) + 1)])  # cut short: not JSON any more
    return bodies


@pytest.mark.parametrize("seed", range(4))
def test_the_quick_answer_is_the_scans_answer(seed: int) -> None:
    for body in _bodies(600, seed):
        assert json_problem(body) == _scanned_problem(body, "the request body"), body[:200]


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, False),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), True),
        (b'["' + b"[" * 500 + b'"]', False),  # brackets inside a string are text
        (b'["\\\\"' + b",[" * 70 + b"]" * 70 + b"]", True),  # the string ends after an escaped backslash
        (b'["\\"' + b",[" * 70 + b"]" * 70 + b'"]', False),  # an escaped quote: the brackets are text
        (b'{"a": [' + b"[1]," * 2000 + b"[1]]}", False),  # many brackets, shallow
    ],
)
def test_nesting_at_its_bound_and_inside_strings(body: bytes, refused: bool) -> None:
    assert (json_problem(body) is not None) is refused
    assert json_problem(body) == _scanned_problem(body, "the request body")


def test_the_number_shapes_find_what_the_suspect_pattern_finds() -> None:
    """The literal search over number shapes answers as the pattern it replaced, byte string by byte string."""
    suspect = re.compile(rb"\d{20}|[eE][+\-]?\d{3}")
    rng = random.Random(16)
    pieces = [b"0", b"7", b"9" * 19, b"e", b"E", b"+", b"-", b"x", b'"', b"5" * 3]
    found = 0
    for _ in range(20_000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        expected = suspect.search(data) is not None
        assert _may_hold_a_refused_number(data) == expected, data
        found += expected
    assert 2_000 < found < 18_000, found
