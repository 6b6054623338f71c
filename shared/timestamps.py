"""Reading the ISO 8601 timestamps credentials carry (validFrom, awardedDate, OB 2.0 issuedOn, …), and the
date-times an API accepts."""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


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


def _storable_in_utc(value: datetime) -> datetime:
    """A moment must still be a datetime once turned to UTC, as every column stores it (shared.db's
    UTCDateTime): 0001-01-01T00:00+00:30 is not (it falls before year 1), and reached the database as
    an OverflowError, a 500."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError as error:
            raise PydanticCustomError("datetime_range", "The moment falls outside years 1 to 9999 in UTC.") from error
    return value


StorableDatetime = Annotated[datetime, AfterValidator(_storable_in_utc)]
"""The date-time an input schema accepts for a value that is stored."""
