"""Capabilities: named groups of skills."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import Capability
from shared.repository import TenantRepository
from shared.schemas.taxonomy import CapabilityIn


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[Capability]:
    return TenantRepository(session, org_id, Capability, "capability")


async def save_capability(
    session: AsyncSession, org_id: uuid.UUID, data: CapabilityIn, capability_id: uuid.UUID | None = None
) -> Capability:
    """Create (no id) or replace (id) a capability."""
    capabilities = repository(session, org_id)
    capability = await capabilities.claim_name(data.name, capability_id) or capabilities.add(Capability())
    capability.name, capability.description = data.name, data.description
    await session.flush()
    return capability
