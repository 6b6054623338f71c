"""The baseline: a bare FastAPI app returning the same role JSON, with no database and no auth."""

import json
import os

from fastapi import FastAPI

ROLE = json.loads(open(os.environ["BENCH_ROLE_JSON"]).read())  # noqa: SIM115 - read once at import


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/role")
    async def role() -> dict:
        return ROLE

    return app
