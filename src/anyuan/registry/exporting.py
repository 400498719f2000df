"""Export of the park registry to CSV or XLSX, in the import formats' columns.

Rows are streamed from ``values_list().iterator()`` (no model objects are held); the
many-to-many lists are loaded in one query per list. Personal data (ID numbers, phones)
is masked unless the actor may reveal it and gives a reason; every export is audited.
Files are written by the platform's one spreadsheet writer (``core/spreadsheets.py``):
text stays text, never a formula (CSV: prefixed with an apostrophe, which the importer
removes again).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.core import actions, audit
from anyuan.core.models import AuditAction
from anyuan.core.personal import Sealed, encrypted_fields
from anyuan.core.roles import EXPORT
from anyuan.core.spreadsheets import write_csv, write_xlsx
from anyuan.registry.importing.kinds import KINDS, Custom, ManyOut, ZoneOut

FORMATS = ("csv", "xlsx")


def format_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(_("Export to a .csv or .xlsx file."))
    return suffix


def has_personal_data(kind_name: str) -> bool:
    kind = KINDS[kind_name]
    return any(c.personal for c in kind.columns) or bool(encrypted_fields(kind.model))


def queryset(kind_name: str, actor):
    """The rows ``actor`` may export (``None``: the system, every row)."""
    model = KINDS[kind_name].model
    if actor is None:
        return model._base_manager.all()
    return model.objects.restrict(actor, EXPORT)


def _text(value, reveal: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, Sealed):
        return value.reveal() if reveal and value.readable else value.masked
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    return str(value)


def _many(kind, column: ManyOut, qs, reveal: bool) -> dict:
    field = kind.model._meta.get_field(column.field)
    through = field.remote_field.through
    source = field.m2m_field_name()
    target = field.m2m_reverse_field_name()
    lists = defaultdict(list)
    rows = (
        through._base_manager.filter(**{f"{source}__in": qs.values("pk")})
        .order_by(f"{target}__{column.attr}")
        .values_list(f"{source}_id", f"{target}__{column.attr}")
    )
    for pk, value in rows.iterator(chunk_size=5000):
        lists[pk].append(_text(value, reveal))
    return lists


def rows(kind_name: str, qs, *, reveal: bool = False) -> Iterator[list[str]]:
    """The header, then one list of cell texts per row of ``qs``."""
    kind = KINDS[kind_name]
    yield [c.name for c in kind.columns]
    paths: list[str] = ["pk"]
    plan = []  # per column: ("paths", start, count, fn) or ("many", lists)
    for col in kind.columns:
        out = col.export
        if out is None:
            out = kind.column_field(col)
        if isinstance(out, ManyOut):
            plan.append(("many", _many(kind, out, qs, reveal)))
            continue
        if isinstance(out, ZoneOut | Custom):
            plan.append(("fn", len(paths), len(out.paths), out))
            paths.extend(out.paths)
        else:
            plan.append(("fn", len(paths), 1, None))
            paths.append(out)
    for values in qs.order_by("pk").values_list(*paths).iterator(chunk_size=2000):
        line = []
        for step in plan:
            if step[0] == "many":
                line.append(";".join(step[1].get(values[0], ())))
                continue
            _tag, start, count, fn = step
            if fn is None:
                line.append(_text(values[start], reveal))
            else:
                line.append(_text(fn(*values[start : start + count]), reveal))
        yield line


def authorise(
    kind_name: str, actor, *, count: int, fmt: str, reveal: bool, reason: str = "", remote_addr=None
):
    """Check the actor may export (and reveal), and write the audit record."""
    model = KINDS[kind_name].model
    personal = bool(reveal and has_personal_data(kind_name))
    if actor is not None:
        return actions.record_export(
            actor,
            model,
            count=count,
            fmt=fmt,
            personal=personal,
            reason=reason,
            remote_addr=remote_addr,
        )
    if personal and len((reason or "").strip()) < 4:
        raise actions.ValidationFailed({"reason": [_("Say why you need personal data in clear.")]})
    return audit.record(
        None,
        AuditAction.EXPORT,
        object_type=model._meta.label_lower,
        object_repr=f"{count} × {model._meta.verbose_name_plural} ({fmt})",
        after={"count": count, "format": fmt, "personal": personal},
        reason=reason,
        remote_addr=remote_addr,
    )


def export_file(
    kind_name: str,
    out: BinaryIO,
    *,
    fmt: str,
    actor=None,
    reveal: bool = False,
    reason: str = "",
    remote_addr=None,
    progress=None,
) -> int:
    """Write ``kind_name`` as ``fmt`` to ``out``; returns the number of rows."""
    if fmt not in FORMATS:
        raise ValueError(_("Export to a .csv or .xlsx file."))
    qs = queryset(kind_name, actor)
    count = qs.count()
    # refuses (PermissionDenied / ValidationFailed) before anything is written
    authorise(
        kind_name,
        actor,
        count=count,
        fmt=fmt,
        reveal=reveal,
        reason=reason,
        remote_addr=remote_addr,
    )
    bar = progress(_("exporting"), count) if progress else None
    lines = rows(kind_name, qs, reveal=reveal and has_personal_data(kind_name))
    try:
        if fmt == "csv":
            return write_csv(lines, out, bar)
        return write_xlsx(lines, out, kind_name, bar)
    finally:
        if bar is not None:
            bar.close()
