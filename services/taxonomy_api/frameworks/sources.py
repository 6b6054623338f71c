"""The files a reader was given, found by name among zips, directories and loose files, and read as
delimited text row by row with the physical line each row starts on, so a problem can point at it.

Zip members are streamed, never extracted: an upload of the full ESCO download stays a few MB on disk."""

import csv
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from services.taxonomy_api.frameworks.bundle import ImportProblem


@dataclass(frozen=True)
class SourceFile:
    # As problems name it: the member's or file's own name, which is what a person searches their download for.
    name: str
    path: Path
    member: str | None = None

    @contextmanager
    def open_text(self) -> Iterator[TextIO]:
        # utf-8-sig: files saved by spreadsheet programs start with a byte-order mark.
        if self.member is None:
            with open(self.path, encoding="utf-8-sig", newline="") as stream:
                yield stream
            return
        with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as raw:
            yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def find_sources(
    paths: Sequence[Path], key_of: Callable[[str], str | None], problems: list[ImportProblem]
) -> dict[str, SourceFile]:
    """The files among `paths` (zips, directories of files or zips, files) whose name `key_of` recognises,
    by key. The first file with a key wins; a second is reported and ignored."""
    found: dict[str, SourceFile] = {}

    def offer(source: SourceFile) -> None:
        key = key_of(source.name)
        if key is None:
            return
        if key in found:
            problems.append(ImportProblem(source.name, None, f"given twice; {found[key].path} is read instead"))
            return
        found[key] = source

    def offer_path(path: Path) -> None:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                members = [info.filename for info in archive.infolist() if not info.is_dir()]
            for member in members:
                offer(SourceFile(name=Path(member).name, path=path, member=member))
        else:
            offer(SourceFile(name=path.name, path=path))

    for path in map(Path, paths):
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file():
                    offer_path(child)
        elif path.is_file():
            offer_path(path)
        else:
            problems.append(ImportProblem(str(path), None, "no such file or directory"))
    return found


def read_rows(
    source: SourceFile,
    required_columns: Sequence[str],
    problems: list[ImportProblem],
    *,
    delimiter: str = ",",
    fill_short_rows: bool = True,
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for every data row, `line` being the 1-based physical line the row starts on (the header
    is line 1; a quoted multi-line field makes a row span several lines). A file lacking any of
    `required_columns` gives one problem and no rows; a row with more fields than the header gives a
    problem and is skipped, as does one with fewer unless `fill_short_rows` (ESCO's skillsHierarchy_en.csv
    leaves trailing empty fields out); blank lines are skipped. Text that cannot be parsed or decoded ends
    the file there, with a problem."""
    # Tab-separated O*NET text never quotes; a stray quote there is data, not a delimiter.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with source.open_text() as stream:
        reader = csv.reader(stream, delimiter=delimiter, quoting=quoting, strict=True)
        line = 1
        try:
            header = [column.strip() for column in next(reader, [])]
            if not any(header):
                problems.append(ImportProblem(source.name, 1, "empty file: no header row"))
                return
            missing = [column for column in required_columns if column not in header]
            if missing:
                problems.append(ImportProblem(source.name, 1, f"missing columns: {', '.join(missing)}"))
                return
            width = len(header)
            line = reader.line_num + 1
            for fields in reader:
                row_line, line = line, reader.line_num + 1
                if len(fields) != width:
                    if not any(field.strip() for field in fields):
                        continue
                    if len(fields) > width or not fill_short_rows:
                        problems.append(
                            ImportProblem(source.name, row_line, f"{len(fields)} fields; the header has {width}")
                        )
                        continue
                    fields += [""] * (width - len(fields))
                elif not any(fields):
                    continue
                yield row_line, dict(zip(header, fields, strict=True))
        except (csv.Error, UnicodeDecodeError) as error:
            problems.append(ImportProblem(source.name, line, f"unreadable from here on: {error}"))
