"""Reading CSV (UTF-8, with or without BOM) and XLSX (first sheet) row by row.

Both give the header cells and then ``(line number, cells)`` for each row, cells as
stripped text. Anything unreadable raises :class:`FileRefused` with a reason; no
third-party parser error escapes (an upload must never crash a page).
"""

import codecs
import contextlib
import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import BinaryIO

from django.utils.translation import gettext as _

from anyuan.core import spreadsheets
from anyuan.core.text import FORMULA_START

# FORMULA_START: leading characters a spreadsheet would run as a formula. Exports prefix
# such a cell with an apostrophe (core/spreadsheets.py); the CSV reader takes it off again.


class FileRefused(Exception):
    """The file as a whole cannot be read; ``line`` is where, when known."""

    def __init__(self, message, line: int | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.line = line


def detect_format(head: bytes, filename: str) -> str:
    """By content first (an XLSX file is a zip), then by the name's extension."""
    name = (filename or "").lower()
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(_("This is an old Excel (.xls) file; save it as XLSX or CSV (UTF-8)."))
    if head.startswith(b"PK\x03\x04") or name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    return "csv"


class Table:
    """An open table: ``headers``, ``header_line``, ``total`` (approximate data rows, or
    ``None``) and ``rows()``."""

    headers: list[str]
    header_line: int
    total: int | None
    format: str

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    return str(value).strip()


class CsvTable(Table):
    format = "csv"

    def __init__(self, fileobj: BinaryIO):
        self._raw = fileobj
        fileobj.seek(0)
        newlines = 0
        for chunk in iter(lambda: fileobj.read(1 << 20), b""):
            newlines += chunk.count(b"\n")
        fileobj.seek(0)
        self._text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._text, strict=False)
        self.header_line = 0
        self.headers = []
        for line, cells in self._iterate():
            if any(cells):
                self.header_line, self.headers = line, cells
                break
        if not self.headers:
            raise FileRefused(_("The file is empty: it has no header row."))
        self.total = max(newlines - self.header_line + 1, 0)

    def _iterate(self) -> Iterator[tuple[int, list[str]]]:
        reader = self._reader
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise FileRefused(
                    _("The file is not UTF-8 text; save it as “CSV UTF-8” or as XLSX."), line
                ) from None
            except csv.Error as e:
                raise FileRefused(_("Not a readable CSV file: %s") % e, line) from None
            yield line, [self._clean(c) for c in cells]

    @staticmethod
    def _clean(cell: str) -> str:
        cell = cell.strip()
        if cell.startswith("'") and cell[1:2] in FORMULA_START and len(cell) > 1:
            return cell[1:]
        return cell

    def rows(self):
        return self._iterate()

    def close(self):
        with contextlib.suppress(ValueError):
            self._text.detach()


class XlsxTable(Table):
    format = "xlsx"

    def __init__(self, fileobj: BinaryIO):
        try:
            self._wb, ws = spreadsheets.open_xlsx(fileobj)
        except spreadsheets.Unreadable as e:
            raise FileRefused(e.message) from None
        try:
            self.total = ws.max_row
            ws.reset_dimensions()  # do not trust the stored dimension: read every row
            self._iter = iter(ws.iter_rows(min_row=1, values_only=True))
        except Exception as e:  # a broken sheet part: refuse, do not crash
            self.close()
            raise FileRefused(_("Not a valid XLSX file.")) from e
        self.header_line, self.headers = 0, []
        for line, cells in self._iterate():
            if any(cells):
                self.header_line, self.headers = line, cells
                break
        if not self.headers:
            raise FileRefused(_("The file is empty: it has no header row."))
        if self.total is not None:
            self.total = max(self.total - self.header_line, 0)
        self._line = self.header_line

    def _iterate(self):
        line = getattr(self, "_line", 0)
        while True:
            line += 1
            try:
                values = next(self._iter)
            except StopIteration:
                return
            except Exception as e:  # a broken sheet part: refuse, do not crash
                raise FileRefused(_("Not a valid XLSX file."), line) from e
            self._line = line
            cells = [_cell_text(v) for v in values]
            while cells and not cells[-1]:
                cells.pop()
            yield line, cells

    def rows(self):
        return self._iterate()

    def close(self):
        # closing a half-read workbook must not hide the real error
        with contextlib.suppress(Exception):
            self._wb.close()


def open_table(fileobj: BinaryIO, filename: str) -> Table:
    fileobj.seek(0)
    head = fileobj.read(8)
    fileobj.seek(0)
    if not head:
        raise FileRefused(_("The file is empty."))
    fmt = detect_format(head, filename)
    if fmt == "xlsx":
        if not head.startswith(b"PK"):
            raise FileRefused(_("Not a valid XLSX file."))
        return XlsxTable(fileobj)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused(_("The file is UTF-16 text; save it as “CSV UTF-8” or as XLSX."))
    return CsvTable(fileobj)
