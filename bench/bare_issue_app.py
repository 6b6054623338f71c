"""The plain-stack issuance baseline (issue 16): a bare FastAPI route that parses the assessment body,
signs a credential-sized document with the project's own proofs module (VC-JWT or eddsa-rdfc-2022, so
the signature costs what it costs the issuer) and inserts it as one row with asyncpg (one INSERT, its
implicit COMMIT), then answers 201 with it. No auth, no criteria, no status list, audit or outbox: what
the stack itself costs, to compare the issuer with.

Environment: BARE_ISSUE_DATABASE_URL (PostgreSQL), BARE_ISSUE_TEMPLATE (a JSON file holding an unsigned
credential, the issuer's own sample, so the row and the signed bytes are the issuer's size).
"""

import os
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from fastapi import Body, FastAPI
from fastapi.responses import Response

from services.badge_issuer.proofs import data_integrity, keys, vc_jwt

_TABLE = """CREATE TABLE IF NOT EXISTS bare_credentials (
    id uuid PRIMARY KEY, org_id uuid NOT NULL, proof_format text NOT NULL, document jsonb NOT NULL,
    compact_jwt text, issued_at timestamptz NOT NULL)"""
_INSERT = (
    "INSERT INTO bare_credentials (id, org_id, proof_format, document, compact_jwt, issued_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)


def create_app() -> FastAPI:
    template: dict[str, Any] = orjson.loads(Path(os.environ["BARE_ISSUE_TEMPLATE"]).read_bytes())
    template.pop("proof", None)
    private_key = keys.generate_private_key("Ed25519")
    did = keys.did_key_for(private_key.public_key())
    method = keys.did_key_verification_method(did)
    template["issuer"] = {**template["issuer"], "id": did}
    org_id = uuid.uuid4()
    pool: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        url = os.environ["BARE_ISSUE_DATABASE_URL"].replace("+asyncpg", "")
        pool["db"] = await asyncpg.create_pool(url, min_size=4, max_size=20)
        await pool["db"].execute(_TABLE)
        yield
        await pool["db"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def store(proof_format: str, document: dict[str, Any], compact_jwt: str | None) -> Response:
        credential_id = uuid.UUID(document["id"].rsplit(":", 1)[-1])
        # asyncpg takes jsonb as text; execute() outside a transaction commits the row on its own.
        await pool["db"].execute(
            _INSERT, credential_id, org_id, proof_format, orjson.dumps(document).decode(), compact_jwt, _now()
        )
        body = {"outcome": "issued", "credential": {"id": str(credential_id), "credential": document}}
        if compact_jwt:
            body["credential"]["jwt"] = compact_jwt
        return Response(orjson.dumps(body), status_code=201, media_type="application/json")

    @app.post("/issue/vc-jwt", status_code=201)
    async def issue_vc_jwt(body: dict[str, Any] = Body()) -> Response:
        unsigned = _fresh(template)
        return await store("vc-jwt", unsigned, vc_jwt.sign(unsigned, private_key, kid=method))

    @app.post("/issue/data-integrity", status_code=201)
    async def issue_data_integrity(body: dict[str, Any] = Body()) -> Response:
        return await store("data-integrity", data_integrity.sign(_fresh(template), private_key, method), None)

    return app


def _now() -> datetime:
    return datetime.now(UTC)


def _fresh(template: dict[str, Any]) -> dict[str, Any]:
    """The template with a new id and validFrom, as each issuance's own credential."""
    return {**template, "id": f"urn:uuid:{uuid.uuid4()}", "validFrom": _now().strftime("%Y-%m-%dT%H:%M:%SZ")}
