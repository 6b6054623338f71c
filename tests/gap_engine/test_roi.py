"""The ROI estimate against the hand calculation of DESIGN §8."""

import pytest


async def test_roi_matches_the_design_worked_example(client, bearer, org):
    body = {"seats": 5_000, "cost_per_seat": 500, "revenue_per_head": 150_000, "expected_uplift": 0.2, "retention": 0.5}
    response = await client.post("/v1/roi", json=body, headers=bearer(org, "gaps:read"))
    assert response.status_code == 200, response.text
    # Cost 5,000 × $500 = $2.5M; gain 5,000 × $150,000 × 0.2 × 0.5 = $75M; 75 / 2.5 = 30× gross,
    # (75 − 2.5) / 2.5 = 29× net (the "about 29×" of §8); 2.5M / (75M / 12 months) = 0.4 months.
    assert response.json() == {
        "total_cost": pytest.approx(2_500_000),
        "first_year_gain": pytest.approx(75_000_000),
        "gross_multiple": pytest.approx(30),
        "net_multiple": pytest.approx(29),
        "payback_months": pytest.approx(0.4),
    }


async def test_roi_with_no_gain_never_pays_back_and_bad_inputs_are_422(client, bearer, org):
    headers = bearer(org, "gaps:read")
    body = {"seats": 10, "cost_per_seat": 100, "revenue_per_head": 50_000, "expected_uplift": 0, "retention": 0.5}
    answer = (await client.post("/v1/roi", json=body, headers=headers)).json()
    assert (answer["net_multiple"], answer["payback_months"]) == (-1, None)
    for field, value in (("seats", 0), ("cost_per_seat", 0), ("retention", 1.5), ("expected_uplift", -0.1)):
        response = await client.post("/v1/roi", json={**body, field: value}, headers=headers)
        assert response.status_code == 422, field


async def test_roi_expected_uplift_is_a_fraction_and_the_error_says_so(client, bearer, org):
    """Issue 15: `5` (meaning 5 %) answered a 749× return; anything above 1 is a percentage by mistake."""
    headers = bearer(org, "gaps:read")
    body = {"seats": 10, "cost_per_seat": 100, "revenue_per_head": 50_000, "expected_uplift": 1, "retention": 0.5}
    assert (await client.post("/v1/roi", json=body, headers=headers)).status_code == 200
    for value in (5, 20, 1.01):
        response = await client.post("/v1/roi", json={**body, "expected_uplift": value}, headers=headers)
        assert response.status_code == 422, value
        [error] = response.json()["errors"]
        assert error["field"] == "body.expected_uplift"
        assert "a fraction: 0.05 for 5 %" in error["message"], error
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["RoiIn"]
    assert "a fraction: 0.05 for 5 %" in schema["properties"]["expected_uplift"]["description"]


async def test_a_cost_too_small_to_divide_by_is_a_422_not_infinite_multiples(client, bearer, org):
    """Found by the fuzz: cost_per_seat 5e-324 passed `> 0` and gain / cost overflowed to infinity,
    which the response carried as null where a number is documented."""
    body = {"seats": 1, "cost_per_seat": 5e-324, "revenue_per_head": 1.0, "expected_uplift": 0.5, "retention": 0.5}
    response = await client.post("/v1/roi", json=body, headers=bearer(org, "gaps:read"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.cost_per_seat"
    body["cost_per_seat"] = 0.01
    answered = (await client.post("/v1/roi", json=body, headers=bearer(org, "gaps:read"))).json()
    assert answered["gross_multiple"] == pytest.approx(25.0) and answered["net_multiple"] == pytest.approx(24.0)
