"""Export of the park registry to CSV or XLSX, in the import formats' columns.

Rows are streamed from ``values_list().iterator()`` (no model objects are held); the
many-to-many lists are loaded in one query per list. Personal data (ID numbers, phones,
and what a model declares derived from them) is masked unless the actor may reveal it and
gives a reason; police-only fields are left empty for those who may not see them; every
export is audited.
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

from anyuan.core import actions, audit, personal
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
    return (
        any(c.personal for c in kind.columns)
        or bool(encrypted_fields(kind.model))
        or bool(personal.disclosure(kind.model).derived)
    )


def _declared(model, paths) -> tuple[bool, bool]:
    """(derived, police-only): what ``model``'s ``disclosure`` says of the fields the
    ORM ``paths`` end at."""
    derived = police_only = False
    for path in paths:
        target = model
        *hops, last = path.split("__")
        for hop in hops:
            target = target._meta.get_field(hop).related_model
        derived |= last in personal.derived_names(target)
        police_only |= last in personal.police_only_names(target)
    return derived, police_only


def _guard(model, paths, *, reveal: bool, reporters: bool):
    """A function applied to a column's cell text, or ``None`` when it is shown as is."""
    derived, police_only = _declared(model, paths)
    if police_only and not reporters:
        return lambda text: ""
    if derived and not reveal:
        return lambda text: personal.MASKED if text else ""
    return None


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


def rows(kind_name: str, qs, *, reveal: bool = False, actor=None) -> Iterator[list[str]]:
    """The header, then one list of cell texts per row of ``qs`` (as ``actor`` may see
    them; ``None``: the system)."""
    kind = KINDS[kind_name]
    yield [c.name for c in kind.columns]
    reporters = personal.sees_reporters(actor)
    paths: list[str] = ["pk"]
    plan = []  # per column: ("paths", start, count, fn, guard) or ("many", lists, guard)
    for col in kind.columns:
        out = col.export
        if out is None:
            out = kind.column_field(col)
        if isinstance(out, ManyOut):
            field = kind.model._meta.get_field(out.field)
            guard = _guard(field.related_model, [out.attr], reveal=reveal, reporters=reporters)
            plan.append(("many", _many(kind, out, qs, reveal), guard))
            continue
        if isinstance(out, ZoneOut | Custom):
            guard = _guard(kind.model, out.paths, reveal=reveal, reporters=reporters)
            plan.append(("fn", len(paths), len(out.paths), out, guard))
            paths.extend(out.paths)
        else:
            guard = _guard(kind.model, [out], reveal=reveal, reporters=reporters)
            plan.append(("fn", len(paths), 1, None, guard))
            paths.append(out)
    for values in qs.order_by("pk").values_list(*paths).iterator(chunk_size=2000):
        line = []
        for step in plan:
            if step[0] == "many":
                text = ";".join(step[1].get(values[0], ()))
                line.append(step[2](text) if step[2] else text)
                continue
            _tag, start, count, fn, guard = step
            if fn is None:
                text = _text(values[start], reveal)
            else:
                text = _text(fn(*values[start : start + count]), reveal)
            line.append(guard(text) if guard else text)
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
    lines = rows(kind_name, qs, reveal=reveal and has_personal_data(kind_name), actor=actor)
    try:
        if fmt == "csv":
            return write_csv(lines, out, bar)
        return write_xlsx(lines, out, kind_name, bar)
    finally:
        if bar is not None:
            bar.close()
