"""Migrations run forwards and back on both backends, and carry data across schema changes."""

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from shared.db import create_engine
from shared.migrations import alembic_config, current_revision, head_revision, upgrade

SERVICES = ("taxonomy_api", "badge_issuer", "gap_engine")


async def _run(url: str, statement, parameters=None):  # noqa: ANN001, ANN202
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(statement, parameters or {})
            return result.fetchall() if result.returns_rows else None
    finally:
        await engine.dispose()


async def _revision(url: str, service: str) -> str | None:
    engine = create_engine(url)
    try:
        return await current_revision(engine, service)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_migrates_down_to_nothing_and_up_again(service, fresh_database_url):
    upgrade(service, fresh_database_url)
    assert asyncio.run(_revision(fresh_database_url, service)) == head_revision(service)
    command.downgrade(alembic_config(service, fresh_database_url), "base")
    assert asyncio.run(_revision(fresh_database_url, service)) is None
    upgrade(service, fresh_database_url)
    assert asyncio.run(_revision(fresh_database_url, service)) == head_revision(service)


def test_achievement_tags_survive_the_move_from_json_to_rows(fresh_database_url):
    command.upgrade(alembic_config("taxonomy_api", fresh_database_url), "1c6bcbb862f6")
    achievements = sa.table(
        "achievements",
        *(sa.column(name) for name in ("name", "description", "achievement_type", "criteria_narrative", "tier")),
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        sa.column("tags", sa.JSON()),
        sa.column("result_description", sa.JSON()),
        sa.column("evidence_required", sa.JSON()),
        sa.column("kpi_anchors", sa.JSON()),
        sa.column("created_at", sa.DateTime()),
        sa.column("updated_at", sa.DateTime()),
    )
    achievement_id = uuid.uuid4()
    row = {
        "name": "Tagged",
        "description": "",
        "achievement_type": "Badge",
        "criteria_narrative": "x",
        "tier": "foundational",
        "id": achievement_id,
        "org_id": uuid.uuid4(),
        "tags": ["b", "a", "a"],
        "result_description": {},
        "evidence_required": [],
        "kpi_anchors": [],
        "created_at": sa.func.now(),
        "updated_at": sa.func.now(),
    }
    asyncio.run(_run(fresh_database_url, achievements.insert().values(**row)))
    upgrade("taxonomy_api", fresh_database_url)
    rows = asyncio.run(_run(fresh_database_url, sa.text("SELECT tag FROM achievement_tags ORDER BY tag")))
    assert [tag for (tag,) in rows] == ["a", "b"]
