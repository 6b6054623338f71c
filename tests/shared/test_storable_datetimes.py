"""The moments an API accepts must survive the turn to UTC in which they are stored (found by the OpenAPI
fuzz: a skill fact's 0001-01-01T00:00:00+00:30 reached the database as an OverflowError, a 500)."""

import uuid

import pytest
from pydantic import ValidationError

from shared.schemas.gaps import SkillFactIn
from shared.schemas.issuer import KeyRevocationIn

BASE = {"hris_id": "E1", "skill_id": str(uuid.uuid4()), "level": 1, "credential_id": "c", "issuer_id": "i"}


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+00:30", "9999-12-31T23:59:59-01:00"])
def test_a_moment_outside_the_utc_range_is_refused(moment):
    with pytest.raises(ValidationError, match="outside years 1 to 9999"):
        SkillFactIn.model_validate({**BASE, "earned_at": moment})
    with pytest.raises(ValidationError, match="outside years 1 to 9999"):
        SkillFactIn.model_validate({**BASE, "earned_at": "2026-01-01T00:00:00Z", "expires_at": moment})


def test_moments_at_the_edges_of_the_range_are_kept():
    fact = SkillFactIn.model_validate({**BASE, "earned_at": "0001-01-01T00:00:00-00:30"})
    assert fact.earned_at.year == 1


def test_a_key_compromised_before_year_1_in_utc_is_refused():
    with pytest.raises(ValidationError, match="outside years 1 to 9999"):
        KeyRevocationIn.model_validate({"reason": "leaked", "compromised_since": "0001-01-01T00:00:00+00:30"})
