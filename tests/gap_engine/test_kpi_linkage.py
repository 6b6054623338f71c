"""KPI linkage on data whose answer is known by construction.

60 employees, client satisfaction for Q2 2026. Employees 0-29 hold the Active listening badge and score
+10; noise cycles -2..2 so that each group's noise averages exactly 0. The planted pair (Conflict
navigation + Strategic storytelling, held by 0-7 and 30-37) scores +30: those 16 are exactly the top
quartile. Conflict navigation alone (10-19) and storytelling alone (20-24, 40-44) dilute the other pairs.
Employees 30-34 also have Active listening credentials that must not count (revoked, untrusted, earned
on the day the period started, expired before it).
"""

import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select

from services.gap_engine.analysis.kpi_linkage import (
    EXACT_GROUP_LIMIT,
    bootstrap_differences,
    pairs_held_together,
    resampled_means,
)
from services.gap_engine.db.tables import Employee, ReceivedCredential
from services.gap_engine.domain.received_credentials import NOT_TRUSTED, REJECTED, VERIFIED
from tests.gap_engine.conftest import employee

METRIC = "client satisfaction"
Q1 = {"period_start": "2026-01-01", "period_end": "2026-03-31"}
Q2 = {"period_start": "2026-04-01", "period_end": "2026-06-30"}
EARNED = datetime(2026, 2, 15, 9, 30, tzinfo=UTC)
NOISE = (-2, -1, 0, 1, 2)


def _value(i: int) -> float:
    listening = i < 30
    pair = i < 8 or 30 <= i < 38
    return 50 + 10 * listening + 30 * pair + NOISE[i % 5]


async def _credentials(gap_app, org: uuid.UUID, rows: list[tuple[str, uuid.UUID, str, dict]]) -> None:
    """Received credentials as the verification pipeline leaves them (a factory: the pipeline itself is
    tested in test_credentials.py; here only the stored outcome matters)."""
    async with gap_app.state.database.sessions() as session:
        ids = dict((await session.execute(select(Employee.hris_id, Employee.id).where(Employee.org_id == org))).all())
        for hris_id, achievement_id, status, fields in rows:
            session.add(
                ReceivedCredential(
                    id=uuid.uuid4(),
                    org_id=org,
                    employee_id=ids[hris_id],
                    credential_id=f"urn:uuid:{uuid.uuid4()}",
                    issuer_id="did:key:z6MkLinkage",
                    achievement_id=achievement_id,
                    format="json",
                    status=status,
                    reasons=[],
                    skills=[],
                    presented={},
                    earned_at=fields.get("earned_at", EARNED),
                    expires_at=fields.get("expires_at"),
                    received_at=EARNED,
                )
            )
        await session.commit()


@pytest.fixture
async def scored(client, headers, gap_app, org, demo) -> dict[str, uuid.UUID]:
    staff = [employee(f"K{i:02d}", team="Service") for i in range(60)]
    assert (await client.post("/v1/employees/bulk", json={"employees": staff}, headers=headers)).status_code == 200
    observations = [{"hris_id": f"K{i:02d}", "metric": METRIC, "value": _value(i), **Q2} for i in range(60)]
    # An older period with unrelated values: each employee counts once, with the latest observation.
    observations += [{"hris_id": f"K{i:02d}", "metric": METRIC, "value": 1000 - i, **Q1} for i in range(60)]
    # Another metric never leaks into this one.
    observations += [{"hris_id": f"K{i:02d}", "metric": "win rate", "value": i, **Q2} for i in range(60)]
    response = await client.post("/v1/kpi-observations", json={"observations": observations}, headers=headers)
    assert response.status_code == 200, response.text

    listening, conflict = demo["badge:Active listening"], demo["badge:Conflict navigation"]
    storytelling = demo["badge:Strategic storytelling"]
    rows = [(f"K{i:02d}", listening, VERIFIED, {}) for i in range(30)]
    rows += [(f"K{i:02d}", conflict, VERIFIED, {}) for i in [*range(8), *range(30, 38), *range(10, 20)]]
    rows += [(f"K{i:02d}", storytelling, VERIFIED, {}) for i in [*range(8), *range(30, 38), *range(20, 25)]]
    rows += [(f"K{i:02d}", storytelling, VERIFIED, {}) for i in range(40, 45)]
    rows += [
        ("K30", listening, REJECTED, {}),  # revoked
        ("K31", listening, NOT_TRUSTED, {}),
        ("K32", listening, VERIFIED, {"earned_at": datetime(2026, 4, 1, 0, 0, tzinfo=UTC)}),  # not before
        ("K33", listening, VERIFIED, {"expires_at": datetime(2026, 3, 31, tzinfo=UTC)}),  # lapsed
        ("K34", listening, REJECTED, {"earned_at": None}),
    ]
    small = uuid.uuid4()  # an achievement no longer in the catalogue, held by three people
    rows += [(f"K{i:02d}", small, VERIFIED, {}) for i in (50, 51, 52)]
    await _credentials(gap_app, org, rows)
    return {"listening": listening, "conflict": conflict, "storytelling": storytelling, "small": small}


async def test_holders_difference_and_interval_match_the_construction(client, headers, scored):
    response = await client.get(f"/v1/kpis/{METRIC}/linkage", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["employees"] == 60 and body["min_group_size"] == 10
    by_id = {item["achievement_id"]: item for item in body["achievements"]}
    listening = by_id[str(scored["listening"])]
    assert listening["name"] == "Active listening (Foundational)"
    assert (listening["holders"], listening["non_holders"]) == (30, 30)
    assert listening["status"] == "ok"
    assert listening["difference"] == pytest.approx(10)
    assert listening["mean_holders"] - listening["mean_non_holders"] == pytest.approx(10)
    assert listening["ci_low"] < 10 < listening["ci_high"]
    assert listening["ci_low"] > 0

    small = by_id[str(scored["small"])]
    assert (small["status"], small["holders"], small["name"], small["difference"]) == (
        "insufficient_data",
        3,
        None,
        None,
    )
    assert body["achievements"][-1]["status"] == "insufficient_data"  # analysable ones first


async def test_the_planted_pair_dominates_the_top_quartile(client, headers, scored):
    body = (await client.get(f"/v1/kpis/{METRIC}/linkage", headers=headers)).json()
    assert body["top_quartile_size"] == 16
    assert body["top_quartile_threshold"] == pytest.approx(78)
    best = body["top_pairs"][0]
    assert set(best["achievement_ids"]) == {str(scored["conflict"]), str(scored["storytelling"])}
    assert (best["support"], best["support_top"]) == (16, 16)
    assert best["lift"] == pytest.approx((16 / 16) / (16 / 60))
    lifts = [pair["lift"] for pair in body["top_pairs"]]
    assert lifts == sorted(lifts, reverse=True) and lifts[1] < best["lift"]
    # Listening + storytelling: 13 hold both, the 8 of them in the top quartile.
    second = body["top_pairs"][1]
    assert set(second["achievement_ids"]) == {str(scored["listening"]), str(scored["storytelling"])}
    assert second["lift"] == pytest.approx((8 / 16) / (13 / 60), rel=1e-5)


async def test_results_are_reproducible_and_etagged(client, headers, scored):
    first = await client.get(f"/v1/kpis/{METRIC}/linkage", headers=headers)
    second = await client.get(f"/v1/kpis/{METRIC}/linkage", headers=headers)
    assert first.content == second.content
    cached = await client.get(f"/v1/kpis/{METRIC}/linkage", headers={**headers, "If-None-Match": first.headers["etag"]})
    assert cached.status_code == 304


async def test_lower_is_better_reverses_the_quartile(client, headers, scored):
    body = (await client.get(f"/v1/kpis/{METRIC}/linkage", params={"direction": "decrease"}, headers=headers)).json()
    assert body["direction"] == "decrease"
    # The top quartile is now the lowest quarter: the 25th percentile, no planted-pair holder in it.
    assert body["top_quartile_threshold"] == pytest.approx(np.quantile([_value(i) for i in range(60)], 0.25))
    ok = [item["difference"] for item in body["achievements"] if item["status"] == "ok"]
    assert ok == sorted(ok)  # best (lowest) difference first
    pairs = {frozenset(pair["achievement_ids"]): pair for pair in body["top_pairs"]}
    planted = pairs[frozenset({str(scored["conflict"]), str(scored["storytelling"])})]
    assert (planted["support_top"], planted["lift"]) == (0, 0)


async def test_small_groups_are_refused_with_a_problem(client, headers, scored):
    # In Q1 nobody held anything yet (credentials were earned in February): no group to compare.
    response = await client.get(f"/v1/kpis/{METRIC}/linkage", params={"period_to": "2026-03-31"}, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "too small" in problem["detail"]
    assert (problem["employees"], problem["min_group_size"]) == (60, 10)


async def test_a_small_organisation_is_refused(client, headers, gap_app, org, demo):
    staff = [employee(f"S{i}") for i in range(12)]
    assert (await client.post("/v1/employees/bulk", json={"employees": staff}, headers=headers)).status_code == 200
    observations = [{"hris_id": f"S{i}", "metric": METRIC, "value": float(i), **Q2} for i in range(12)]
    assert (
        await client.post("/v1/kpi-observations", json={"observations": observations}, headers=headers)
    ).status_code == 200
    await _credentials(gap_app, org, [(f"S{i}", demo["badge:Active listening"], VERIFIED, {}) for i in range(6)])
    response = await client.get(f"/v1/kpis/{METRIC}/linkage", headers=headers)
    assert response.status_code == 422
    assert response.json()["min_group_size"] == 10


async def test_unknown_metric_other_organisation_and_bad_period(client, headers, bearer, new_org, scored):
    assert (await client.get("/v1/kpis/unknown metric/linkage", headers=headers)).status_code == 404
    other, _ = await new_org("other")
    assert (await client.get(f"/v1/kpis/{METRIC}/linkage", headers=bearer(other))).status_code == 404
    backwards = await client.get(
        f"/v1/kpis/{METRIC}/linkage", params={"period_from": "2026-06-01", "period_to": "2026-01-01"}, headers=headers
    )
    assert backwards.status_code == 422
    reader = bearer(other, "gaps:read")  # no taxonomy:read: the catalogue read is refused, as a problem
    assert (await client.get(f"/v1/kpis/{METRIC}/linkage", headers=reader)).status_code == 403


def test_a_large_group_follows_the_drawn_bootstrap_distribution():
    """Above EXACT_GROUP_LIMIT the resampled means come from the normal limit with a skewness term: on
    strongly skewed data its tails must match those of resamples actually drawn, asymmetry included."""
    group = np.random.default_rng(7).lognormal(0, 1, size=EXACT_GROUP_LIMIT + 100)
    resamples = 20_000
    drawn = group[np.random.default_rng(1).integers(0, len(group), size=(resamples, len(group)))].mean(axis=1)
    limit = resampled_means(group, np.random.default_rng(2), resamples)
    spread = group.std() / np.sqrt(len(group))
    for share in (2.5, 50, 97.5):
        assert abs(np.percentile(limit, share) - np.percentile(drawn, share)) < 0.1 * spread
    for means in (drawn, limit):  # right-skewed data: the upper tail is the longer one
        low, middle, high = np.percentile(means, [2.5, 50, 97.5])
        assert high - middle > middle - low + 0.1 * spread
    assert np.all(resampled_means(np.full(EXACT_GROUP_LIMIT, 3.0), np.random.default_rng(3), 10) == 3.0)


def test_bootstrap_keeps_group_sizes_and_is_seeded():
    """Stratified: a resample never empties a group, and the same seed gives the same differences."""
    values = np.arange(40, dtype=np.float64)
    held = np.zeros((40, 2), dtype=bool)
    held[:10, 0] = True  # the ten lowest: every resampled difference is negative
    held[::2, 1] = True
    first = bootstrap_differences(values, held, np.random.default_rng(5), resamples=300)
    again = bootstrap_differences(values, held, np.random.default_rng(5), resamples=300)
    assert first.shape == (300, 2) and np.array_equal(first, again)
    assert np.all(first[:, 0] < 0) and np.isfinite(first).all()


def test_pairs_held_together_counts_like_the_matrix_product():
    """Bit-packed co-occurrence equals held.T @ held above the diagonal, for sizes not a multiple of 64."""
    for employees in (1, 63, 64, 1_001):
        held = np.random.default_rng(employees).random((employees, 7)) < 0.4
        expected = np.triu(held.astype(np.int64).T @ held.astype(np.int64), k=1)
        assert np.array_equal(pairs_held_together(held), expected)
