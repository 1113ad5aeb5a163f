"""Reading uploaded CSV files the way clinics produce them (Excel exports, odd encodings).

Shared by every import (patients, catalog, purchases) so they all accept and refuse the same files.
"""

import csv
import io
from collections.abc import Iterator

from .errors import DomainError

# Excel on Windows saves "CSV" in its code page; UTF-8 (with or without a BOM) is tried first,
# then cp1252, then latin-1, which accepts any byte so a readable file is never refused for its encoding.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


class UnreadableFile(DomainError):
    code = "unreadable_file"


def decode_csv(data: bytes) -> str:
    """The file's text, in the first encoding that reads it."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("The file's text could not be read.")  # unreachable: latin-1 reads any byte


def column_name(cell: str) -> str:
    return cell.strip().lower().replace(" ", "_").replace("-", "_")


def read_csv(
    data: bytes, *, columns: tuple[str, ...], required: tuple[str, ...]
) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header's column names and the data rows (only `columns`), numbered as a spreadsheet shows them
    (the header is row 1). Raises UnreadableFile when the file is empty, is not text, or lacks a required column.
    """
    text = decode_csv(data)
    if "\x00" in text:
        raise UnreadableFile("This is not a CSV text file. Save the spreadsheet as CSV and upload that.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column_name(cell) for cell in next(reader, [])]
    except csv.Error as error:
        raise UnreadableFile(f"The first row could not be read as CSV ({error}).") from None
    if not any(header):
        raise UnreadableFile(f"The file is empty: the first row must name the columns ({', '.join(columns[:3])}, ...).")
    missing = [name for name in required if name not in header]
    if missing:
        found = ", ".join(name for name in header if name) or "nothing"
        raise UnreadableFile(f"The first row must have a “{missing[0]}” column (found: {found}).")
    positions = {name: header.index(name) for name in columns if name in header}

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for number, cells in enumerate(reader, start=2):
                if not any(cell.strip() for cell in cells):
                    continue
                yield number, {name: (cells[i].strip() if i < len(cells) else "") for name, i in positions.items()}
        except csv.Error as error:
            raise UnreadableFile(f"Row {reader.line_num} could not be read as CSV ({error}).") from None

    return header, rows()
