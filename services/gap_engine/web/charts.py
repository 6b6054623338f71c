"""Server-side SVG charts: the geometry is worked out here, the template draws it, and every chart has a
text table beside it (the numbers are printed; the chart is never the only way to read them)."""

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, BAR_AREA, LABEL_HEIGHT = 480, 160, 40


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: list[Bar]
    width: int
    height: int
    baseline: float


def bar_chart(title: str, items: Sequence[tuple[str, int]]) -> BarChart:
    """Vertical bars, one per item, scaled to the largest value."""
    top = max((value for _, value in items), default=0) or 1
    slot = WIDTH / max(len(items), 1)
    bars = []
    for i, (label, value) in enumerate(items):
        height = BAR_AREA * value / top
        bars.append(Bar(label, value, i * slot + slot * 0.15, 20 + BAR_AREA - height, slot * 0.7, height))
    return BarChart(title, bars, WIDTH, 20 + BAR_AREA + LABEL_HEIGHT, 20 + BAR_AREA)


@dataclass(frozen=True, slots=True)
class Interval:
    label: str
    low: float
    mid: float
    high: float
    y: float
    x_low: float
    x_mid: float
    x_high: float
    selected: bool


@dataclass(frozen=True, slots=True)
class IntervalChart:
    title: str
    rows: list[Interval]
    width: int
    height: int
    x_zero: float
    label_width: int
    minimum: float
    maximum: float


ROW_HEIGHT, LABEL_WIDTH = 26, 200


def interval_chart(
    title: str, items: Sequence[tuple[str, float, float, float]], selected: str | None = None
) -> IntervalChart:
    """A horizontal 95 % interval per item (label, low, estimate, high), around a line at zero."""
    lows = [low for _, low, _, _ in items] + [0.0]
    highs = [high for _, _, _, high in items] + [0.0]
    minimum, maximum = min(lows), max(highs)
    span = (maximum - minimum) or 1.0
    plot = WIDTH - LABEL_WIDTH - 20

    def x(value: float) -> float:
        return LABEL_WIDTH + 10 + plot * (value - minimum) / span

    rows = [
        Interval(label, low, mid, high, 20 + i * ROW_HEIGHT, x(low), x(mid), x(high), label == selected)
        for i, (label, low, mid, high) in enumerate(items)
    ]
    return IntervalChart(title, rows, WIDTH, 30 + len(rows) * ROW_HEIGHT, x(0.0), LABEL_WIDTH, minimum, maximum)
