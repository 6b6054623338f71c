"""Reading the ISO 8601 timestamps credentials carry (validFrom, awardedDate, OB 2.0 issuedOn, …)."""

from datetime import UTC, datetime
from typing import Any


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 date-time as an aware datetime (a zone-less one is read as UTC); None when the
    value is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
