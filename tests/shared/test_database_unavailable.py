"""A database that is restarting or unreachable is a 503 with Retry-After, whatever error class the
driver wraps it in; a value the database refuses is a 422. (PostgreSQL restarting under load used to
give plain DBAPIErrors, which answered 500.)"""

import asyncpg.exceptions as pg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from shared.errors import ServiceUnavailable, install_problem_handlers

pytestmark = pytest.mark.anyio


def _app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


def _wrapped(orig: Exception) -> DBAPIError:
    """What SQLAlchemy raises around a driver error: not always an OperationalError."""
    return DBAPIError.instance("SELECT 1", {}, orig, Exception)


async def _get(app: FastAPI) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        return await client.get("/boom")


@pytest.mark.parametrize(
    "orig",
    [
        pg.CannotConnectNowError("the database system is starting up"),
        pg.AdminShutdownError("terminating connection due to administrator command"),
        pg.CannotConnectNowError("the database system is shutting down"),
        pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        pg.TooManyConnectionsError("sorry, too many clients already"),
        pg.LockNotAvailableError("canceling statement due to lock timeout"),
    ],
    ids=["starting-up", "admin-shutdown", "shutting-down", "closed-mid-operation", "too-many-clients", "lock-timeout"],
)
async def test_a_database_that_cannot_serve_now_is_a_503_with_retry_after(orig):
    response = await _get(_app_raising(_wrapped(orig)))
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert response.json()["type"].endswith("/unavailable")


async def test_a_value_the_database_refuses_is_a_422_not_a_500():
    from sqlalchemy.exc import DataError

    error = DataError.instance("INSERT", {}, pg.CharacterNotInRepertoireError("invalid byte sequence"), Exception)
    response = await _get(_app_raising(error))
    assert response.status_code == 422


async def test_a_real_fault_in_a_query_is_still_a_500():
    response = await _get(_app_raising(_wrapped(pg.UndefinedTableError('relation "nowhere" does not exist'))))
    assert response.status_code == 500


async def test_every_503_says_when_to_come_back():
    response = await _get(_app_raising(ServiceUnavailable("The taxonomy service is unreachable.")))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def _app_whose_connection_dies_after_its_read(url: str) -> FastAPI:
    """A read that succeeds, then loses its connection before the session closes (PostgreSQL stopping
    between the query and the end of the request): the close, after the response, is what meets it."""
    from fastapi import Depends
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession

    from shared.db import Database, get_session

    app = FastAPI()
    install_problem_handlers(app)
    app.state.database = Database(url)

    @app.get("/read")
    async def read(cut: bool = False, session: AsyncSession = Depends(get_session)) -> dict[str, int]:
        value = (await session.execute(text("SELECT 1"))).scalar_one()
        if cut:
            driver = (await (await session.connection()).get_raw_connection()).driver_connection
            await driver.close() if not hasattr(driver, "terminate") else driver.terminate()
        return {"value": value}

    return app


async def test_a_connection_lost_after_the_answer_leaves_the_answer_standing_and_the_next_request_served(
    database_urls,
):
    # The session closes after the response has gone out. Its rollback on a dead connection used to
    # raise there, and uvicorn then dropped the keep-alive connection: the client's next request on it
    # got no answer at all (the PostgreSQL-restart fault test saw one such GET in CI).
    app = _app_whose_connection_dies_after_its_read(database_urls["taxonomy_api"])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            cut = await client.get("/read", params={"cut": "true"})
            after = await client.get("/read")
    finally:
        await app.state.database.dispose()
    assert (cut.status_code, cut.json()) == (200, {"value": 1})
    assert (after.status_code, after.json()) == (200, {"value": 1})
