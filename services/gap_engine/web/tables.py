"""A table as both the page and its CSV show it: one list of cells, so the export equals the table."""

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi.responses import Response

from shared.errors import NotFound

Value = str | int | float | None
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEAT_LEVELS = 5


@dataclass(frozen=True, slots=True)
class Cell:
    value: Value
    text: str
    href: str | None = None
    heat: int | None = None
    num: bool = False

    @property
    def data(self) -> str:
        """The value as the CSV writes it (the page's data-value attribute)."""
        return csv_value(self.value)


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    num: bool = False


@dataclass(slots=True)
class Table:
    name: str
    caption: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str | None = None
    heatmap: bool = False


def text(value: str | None, href: str | None = None, empty: str = "—") -> Cell:
    return Cell(value, value if value is not None else empty, href=href)


def number(value: int | float | None, decimals: int | None = None, suffix: str = "") -> Cell:
    if value is None:
        return Cell(None, "—", num=True)
    shown = f"{value:,.{decimals}f}" if decimals is not None else f"{value:,}"
    return Cell(value, shown + suffix, num=True)


def heat_level(share: float) -> int:
    """0 (nobody meets it) … 4 (everyone does), in equal fifths."""
    return min(HEAT_LEVELS - 1, int(share * HEAT_LEVELS))


def share(meeting: int, headcount: int, value: float) -> Cell:
    """A heatmap cell: the share meeting, printed as a percentage with its counts (colour is not the
    only signal)."""
    return Cell(value, f"{round(value * 100)} % ({meeting}/{headcount})", heat=heat_level(value), num=True)


def csv_value(value: Value) -> str:
    """Numbers as Python writes them; text that a spreadsheet would run as a formula behind a quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_value(column.label) for column in table.columns])
    for row in table.rows:
        writer.writerow([csv_value(cell.value) for cell in row])
    return out.getvalue()


class Tables(Mapping[str, Table]):
    """A page's tables by name, each laid out only when asked for: the organisation's requirements
    table (every role × skill cell, 10,000 at 100k employees) is built for its CSV, not for each page."""

    def __init__(self, builders: Mapping[str, Callable[[], Table]]) -> None:
        self._builders = dict(builders)
        self._built: dict[str, Table] = {}

    @classmethod
    def of(cls, *tables: Table) -> "Tables":
        return cls({t.name: (lambda t=t: t) for t in tables})

    def __getitem__(self, name: str) -> Table:
        if name not in self._built:
            self._built[name] = self._builders[name]()
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)


def csv_response(tables: Mapping[str, Table], name: str | None, filename: str) -> Response:
    """The table called `name` (the first when not named) as a CSV download."""
    name = name or next(iter(tables), None)
    if name is None or name not in tables:
        raise NotFound(f"No table {name!r} on this page; tables: {', '.join(tables)}.")
    chosen = tables[name]
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in f"{filename}-{chosen.name}")[:120]
    return Response(
        to_csv(chosen).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename=\"{stem}.csv\"; filename*=UTF-8''{quote(stem)}.csv",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
