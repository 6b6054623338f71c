"""The POST baseline: a bare FastAPI endpoint that parses a JSON body and returns a fixed JSON (201), with
no database, no auth and no signing."""

from typing import Any

from fastapi import Body, FastAPI

RESPONSE = {"outcome": "issued", "credential": {"id": "00000000-0000-0000-0000-000000000000", "proof_format": "bare"}}


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/issue", status_code=201)
    async def issue(body: dict[str, Any] = Body()) -> dict[str, Any]:
        return RESPONSE

    return app
