"""The edge's JSON screen at its exact bounds (shared/input_guard.py): what is one step inside passes,
one step past is refused, and what only looks like a number or a bracket inside a string never counts."""

import pytest

from shared.input_guard import MAX_JSON_DEPTH, json_problem


def _nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


@pytest.mark.parametrize(
    "body",
    [
        b'{"n": 9223372036854775807}',  # 19 digits
        b'{"n": -9223372036854775808}',
        b'{"n": 1.7976931348623157e308}',
        b'{"n": 5e-324, "m": 1e-400}',  # underflow is finite
        _nested(MAX_JSON_DEPTH),
        b'{"s": "' + b"[" * 200 + b'", "t": "\\\\u0000", "u": "12345678901234567890123", "v": "9e999"}',
        b'{"jwt": "eyJhbGciOiJFZERTQSJ9.e999.' + b"1" * 40 + b'"}',
    ],
)
def test_inside_the_bounds_passes(body: bytes) -> None:
    assert json_problem(body) is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"n": 12345678901234567890}', "64 bits"),  # 20 digits
        (b"[1, -12345678901234567890]", "64 bits"),
        (b'{"n": 1.8e308}', "range of a double"),
        (b"[2E+400]", "range of a double"),
        (_nested(MAX_JSON_DEPTH + 1), "nested more than"),
        (b'{"a": "]]]]", "b": ' + _nested(MAX_JSON_DEPTH + 1) + b"}", "nested more than"),
        (b'{"s": "a\\u0000"}', "NUL character"),
    ],
)
def test_one_step_past_is_refused(body: bytes, why: str) -> None:
    assert why in (json_problem(body) or "")
