"""The one writer of every XLSX and CSV file the platform produces, and the one opener of
the XLSX files it reads.

Writing: text is stored as text, never as a formula. In XLSX every text cell is a string
cell (a leading ``=`` would otherwise make openpyxl write a formula, ``#N/A`` an error
value); numbers, booleans and dates keep their types. In CSV a cell starting with
``= + - @`` or a tab or carriage return is prefixed with an apostrophe (the OWASP advice
against formula injection; the registry's CSV reader takes it off again). Both strip the
control characters of ``core/text.py`` — rows stored before they were refused on input
may hold them, and an XLSX file cannot.

Reading: :func:`open_xlsx` refuses a workbook whose parts unpack to more than
``ANYUAN_IMPORT_MAX_UNPACKED_BYTES`` (a "zip bomb") or with a sheet of more than
``ANYUAN_IMPORT_MAX_ROWS`` rows, before any sheet is parsed; openpyxl then reads it in
read-only mode (row by row).

``core/tests/test_spreadsheets.py`` fails if any other module builds a workbook or a CSV
writer of its own.
"""

import csv
import datetime as dt
import decimal
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.core.text import CONTROL_CHARACTERS, FORMULA_START

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"

# openpyxl turns these strings into a formula or an error value unless told otherwise
_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))
_XLSX_MAX_TEXT = 32767  # characters in one cell


def cell_text(value) -> str:
    """Any value as the text of a cell, without control characters."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return CONTROL_CHARACTERS.sub("", str(value))


# --- XLSX -----------------------------------------------------------------------------------


class Sheet:
    """One sheet of a :class:`Workbook`; :meth:`append` writes a row."""

    def __init__(self, ws):
        self._ws = ws
        self.rows = 0

    def _cell(self, value):
        from openpyxl.cell import WriteOnlyCell

        if value is None or isinstance(value, bool | int | float | decimal.Decimal):
            return value
        if isinstance(value, dt.datetime):
            if timezone.is_aware(value):
                value = timezone.make_naive(value)  # in the current time zone
            return value
        if isinstance(value, dt.date | dt.time):
            return value
        text = CONTROL_CHARACTERS.sub("", str(value))[:_XLSX_MAX_TEXT]
        if text.startswith("=") or text in _ERROR_CODES:
            cell = WriteOnlyCell(self._ws, value=text)
            cell.data_type = "s"  # text, never a formula
            return cell
        return text  # openpyxl stores any other str as a string cell

    def append(self, row: Iterable) -> None:
        self._ws.append([self._cell(v) for v in row])
        self.rows += 1


class Workbook:
    """A streaming (write-only) workbook: ``sheet(title)`` in order, then ``save(out)``."""

    def __init__(self):
        import openpyxl

        self._wb = openpyxl.Workbook(write_only=True)

    def sheet(self, title: str) -> Sheet:
        title = cell_text(title)
        for bad in "[]:*?/\\":
            title = title.replace(bad, " ")
        return Sheet(self._wb.create_sheet(title=title[:31] or "-"))

    def save(self, out: BinaryIO) -> None:
        self._wb.save(out)

    def content(self) -> bytes:
        out = io.BytesIO()
        self.save(out)
        return out.getvalue()


def write_xlsx(lines: Iterable[Iterable], out: BinaryIO, title: str, progress=None) -> int:
    """One sheet of ``lines`` (a header, then rows) to ``out``; the number of data rows."""
    book = Workbook()
    sheet = book.sheet(title)
    for line in lines:
        sheet.append(line)
        if progress is not None and sheet.rows > 1:
            progress.update(1)
    book.save(out)
    return max(sheet.rows - 1, 0)


def xlsx_bytes(sheets: Iterable[tuple[str, Iterable[Iterable]]]) -> bytes:
    """A workbook of ``(title, rows)`` sheets, as bytes."""
    book = Workbook()
    for title, rows in sheets:
        sheet = book.sheet(title)
        for row in rows:
            sheet.append(row)
    return book.content()


# --- CSV ------------------------------------------------------------------------------------


def csv_cell(value) -> str:
    text = cell_text(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class CsvWriter:
    """``csv.writer`` over a text stream, with every cell made safe by :func:`csv_cell`."""

    def __init__(self, stream):
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable):
        return self._writer.writerow([csv_cell(v) for v in row])


class _Echo:
    def write(self, value):
        return value


def csv_chunks(lines: Iterable[Iterable], *, bom: bool = True) -> Iterator[str]:
    """CSV text in chunks (for a streaming response); a BOM first so Excel reads UTF-8."""
    writer = CsvWriter(_Echo())
    if bom:
        yield "\ufeff"
    buffer = []
    for line in lines:
        buffer.append(writer.writerow(line))
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)


def write_csv(lines: Iterable[Iterable], out: BinaryIO, progress=None) -> int:
    """``lines`` (a header, then rows) as UTF-8 CSV with a BOM; the number of data rows."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = CsvWriter(text)
    n = -1
    for line in lines:
        writer.writerow(line)
        n += 1
        if progress is not None and n:
            progress.update(1)
    text.flush()
    text.detach()
    return max(n, 0)


# --- reading XLSX ---------------------------------------------------------------------------


class Unreadable(ValueError):
    """A workbook refused before parsing; ``message`` says why, in the user's language."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = str(message)


def max_rows() -> int:
    return int(settings.ANYUAN_IMPORT_MAX_ROWS)


def max_unpacked_bytes() -> int:
    return int(settings.ANYUAN_IMPORT_MAX_UNPACKED_BYTES)


def too_many_rows():
    return Unreadable(
        _(
            "The file has more than %(max)s rows; at most %(max)s rows can be imported "
            "at once: split it."
        )
        % {"max": f"{max_rows():,}"}
    )


# a row element, with or without a namespace prefix (``<row r="1">``, ``<x:row>``); text
# cannot contain one (``<`` is escaped in XML)
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")


def _rows_in(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> int:
    """The number of row elements of a worksheet part, counted on the unpacked bytes and
    only up to ``limit + 1``."""
    count, carry = 0, b""
    with archive.open(info) as part:
        for chunk in iter(lambda: part.read(1 << 20), b""):
            data = carry + chunk
            cut = data.rfind(b"<")  # a tag cut by the chunk's end is counted next time
            cut = len(data) if cut < 0 else cut
            count += len(_ROW_TAG.findall(data, 0, cut))
            carry = data[cut:]
            if count > limit:
                return count
    return count + len(_ROW_TAG.findall(carry))


def open_xlsx(fileobj: BinaryIO):
    """``(workbook, first sheet)`` of an XLSX file, read-only; :class:`Unreadable` if it
    is not a workbook, unpacks to too much, or a sheet has too many rows.

    The rows are counted on the unpacked XML before openpyxl opens the file: its read-only
    mode reads each sheet's stored dimension, and parses the whole sheet when there is
    none (a sheet's dimension may also lie)."""
    import openpyxl

    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            parts = archive.infolist()
            unpacked = sum(i.file_size for i in parts)
            if unpacked > max_unpacked_bytes():
                # zipfile never unpacks more than an entry's declared size (it checks the
                # CRC at the end), so the declared sizes bound the work
                raise Unreadable(
                    _("The workbook unpacks to %(mb)s MB; at most %(max)s MB can be read.")
                    % {"mb": unpacked // 2**20, "max": max_unpacked_bytes() // 2**20}
                )
            limit = max_rows() + 1  # and the header
            # every part: a sheet's part may be named anything its relationship says
            if any(_rows_in(archive, info, limit) > limit for info in parts):
                raise too_many_rows()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as e:
        if isinstance(e, Unreadable):
            raise
        raise Unreadable(_("Not a valid XLSX file.")) from None
    fileobj.seek(0)
    try:
        book = openpyxl.load_workbook(fileobj, read_only=True, data_only=True)
        return book, book.worksheets[0]
    except Exception:  # BadZipFile, KeyError, XML errors ...: openpyxl has many
        raise Unreadable(_("Not a valid XLSX file.")) from None
