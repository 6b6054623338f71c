"""Capabilities: named groups of skills."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import Capability
from shared.errors import Unprocessable
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
    if data.parent_id is not None:
        await _check_parent(capabilities, data.parent_id, capability.id)
    capability.name, capability.description = data.name, data.description
    capability.parent_id = data.parent_id
    capability.owner, capability.review_by = data.owner, data.review_by
    await session.flush()
    return capability


async def _check_parent(
    capabilities: TenantRepository[Capability], parent_id: uuid.UUID, capability_id: uuid.UUID | None
) -> None:
    """The parent must be the organisation's, and not the capability itself or one beneath it."""
    seen: set[uuid.UUID] = set()
    current: uuid.UUID | None = parent_id
    while current is not None:
        if current == capability_id or current in seen:
            raise Unprocessable("parent_id would make capabilities contain themselves", field="parent_id")
        seen.add(current)
        current = (await capabilities.get(current)).parent_id
