"""The ROI of a credential programme as arithmetic a finance reader can redo by hand."""

from shared.schemas.gaps import RoiIn, RoiOut


def estimate_roi(inputs: RoiIn) -> RoiOut:
    """Gross multiple is gain over cost; net multiple subtracts the cost first (the "about 29×" of the
    5,000-seat worked example)."""
    total_cost = inputs.seats * inputs.cost_per_seat
    gain = inputs.seats * inputs.revenue_per_head * inputs.expected_uplift * inputs.retention
    return RoiOut(
        total_cost=total_cost,
        first_year_gain=gain,
        gross_multiple=gain / total_cost,
        net_multiple=(gain - total_cost) / total_cost,
        payback_months=total_cost / (gain / 12) if gain > 0 else None,
    )
