"""When a requirement counts as met, and how readiness is bucketed: shared by the live gap maths
(analysis/gaps.py) and the stored reports (analysis/snapshots.py), so both agree to the last digit."""

from typing import Any

from sqlalchemy.sql import ColumnElement

# Verified levels are fractional once issuers are weighted (level × weight); this absorbs float error.
MET_TOLERANCE = 1e-9
READINESS_BUCKETS = ((0.0, 25.0), (25.0, 50.0), (50.0, 75.0), (75.0, 100.0))


def meets(level: ColumnElement[Any], required: ColumnElement[Any]) -> ColumnElement[bool]:
    return level + MET_TOLERANCE >= required
