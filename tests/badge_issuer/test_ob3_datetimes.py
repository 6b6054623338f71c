"""The date-times written into credentials are RFC 3339 in UTC, to the second, for every year."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.badge_issuer.ob3.credential import xsd_datetime
from services.badge_issuer.ob3.schema_validation import _is_rfc3339_date_time


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(2026, 12, 7, 18, 14, 46, 999_999, tzinfo=UTC), "2026-12-07T18:14:46Z"),
        (datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2025-12-31T23:30:00Z"),
        (datetime(999, 3, 4, 5, 6, 7, tzinfo=UTC), "0999-03-04T05:06:07Z"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "9999-12-31T23:59:59Z"),
    ],
)
def test_a_moment_is_written_in_utc_to_the_second(moment, written):
    assert xsd_datetime(moment) == written
    assert _is_rfc3339_date_time(written)
