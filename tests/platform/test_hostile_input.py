"""What no route may receive is refused at the edge, the same on all three services: a clear 422
problem, never a 500 from deep inside a handler (shared/input_guard.py)."""

import json

import pytest

# Marked at collection so anyio's plugin sees the parametrized coroutine tests (see test_api_baking).
pytestmark = pytest.mark.anyio
POST_ROUTES = {"taxonomy_api": "/v1/capabilities", "badge_issuer": "/v1/verify", "gap_engine": "/v1/employees/bulk"}


def _problem(response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"name": "a\\u0000b"}', "NUL character"),
        (b'{"name": "a\x00b"}', "NUL byte"),
        (b'{"n": 18446744073709551616}', "64 bits"),
        (b'{"n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested more than 64"),
        (b'{"n": 1e400}', "range of a double"),
        (b'{"n": -1' + b"0" * 400 + b".5}", "range of a double"),
    ],
    ids=["escaped-nul", "raw-nul", "integer-over-64-bits", "nested-100000-deep", "float-1e400", "float-400-digits"],
)
async def test_a_json_body_with_what_no_field_accepts_is_refused_on_every_service(each_service, payload, expected):
    async def check(app, client, name):
        response = await client.post(POST_ROUTES[name], content=payload, headers={"content-type": "application/json"})
        assert expected in _problem(response)

    await each_service(check)


async def test_nul_in_the_path_or_query_is_refused_before_any_route(each_service):
    async def check(app, client, name):
        assert "query string" in _problem(await client.get("/v1/skills?name=a%00b"))
        assert "path" in _problem(await client.get("/v1/skills/a%00b"))

    await each_service(check)


async def test_what_merely_looks_hostile_reaches_the_route(each_service):
    """An escaped backslash before u0000, long digit runs inside strings, a long fraction and a binary
    upload are all legitimate: the route answers (here 401/422 of its own), not the guard."""

    async def check(app, client, name):
        legit = json.dumps(
            {
                "name": "C:\\u0000dir",
                "id": "184467440737095516161844",
                "x": 0.12345678901234567890123,
                "big": 1.5e308,
                "wide": 12345678901234567890.5,
                "text": "1e400",
            }
        )
        response = await client.post(POST_ROUTES[name], content=legit, headers={"content-type": "application/json"})
        assert response.status_code != 500
        assert "NUL" not in response.text and "64 bits" not in response.text
        upload = await client.post(
            "/v1/verify", files={"file": ("badge.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")}
        )
        assert "NUL" not in upload.text

    await each_service(check)


async def test_invalid_json_is_a_syntax_problem_with_line_and_column_on_every_service(each_service):
    """Issue 15: a JSON syntax error was reported as field `body.13` (the character offset)."""

    async def check(app, client, name):
        payload = b'{\n  "name": "x",\n  "team": oops\n}'
        response = await client.post(POST_ROUTES[name], content=payload, headers={"content-type": "application/json"})
        _problem(response)
        [error] = response.json()["errors"]
        assert error["field"] == "body", error
        assert "line 3, column 11" in error["message"] and "JSON" in error["message"], error
        assert "not valid JSON" in response.json()["detail"]

    await each_service(check)
