"""The import engine: read a file, check every row, then write all rows or none.

Phase 1 reads the whole file and checks each row: cells (types, identifiers, choices),
references (natural keys looked up in maps loaded once per import, from the rows the
acting user may *view*), duplicate keys inside the file, the model's rules on the row's
final state (the existing record merged with the file's values), scope (every row must
land where the user may import), and uniqueness against the stored rows. Each problem is
collected as (line, column, value — masked if personal —, reason).

Phase 2 runs only if phase 1 found nothing: one transaction, ``bulk_create`` and
``bulk_update`` in batches, personal data encrypted and digests filled here (the bulk
paths do not all call ``pre_save``), then one audit record.
"""

import dataclasses
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.core import audit, personal, spreadsheets
from anyuan.core.actions import CONTROL_CHARACTERS_MESSAGE, not_saved, within_limit
from anyuan.core.events import publish_on_commit
from anyuan.core.models import AuditAction
from anyuan.core.roles import ENTERPRISE_ROLES, IMPORT, POLICE_ROLES, VIEW, user_can
from anyuan.core.text import has_control_characters
from anyuan.registry.importing import cells
from anyuan.registry.importing.reading import FileRefused, open_table

BATCH = 2000

# A progress reporter: ``progress(description, total)`` returns an object with
# ``update(n)`` and ``close()`` (a tqdm bar does), or the engine reports nothing.
Progress = Callable[[str, int | None], Any]


class _NoProgress:
    def update(self, n=1):
        pass

    def close(self):
        pass


def no_progress(description, total):
    return _NoProgress()


@dataclasses.dataclass
class Column:
    """One column of an import format.

    ``field``: the model attribute the cell sets directly ("" = the column's own name;
    ``None`` = the kind resolves it, e.g. a reference). ``personal``: the personal-data
    kind of the cell's content (masked in reports and exports). ``export``: the ORM path
    (or a callable ``(values) -> text`` over the export row) that gives the column's value.
    """

    name: str
    zh: str
    parse: cells.Parser | None = None
    required: bool = False
    field: str | None = ""
    personal: str = ""
    export: Any = None
    is_list: bool = False

    def mask(self, value: str) -> str:
        if not self.personal or not value:
            return value
        if self.is_list:
            return ";".join(personal.mask(self.personal, v.strip()) for v in value.split(";"))
        return personal.mask(self.personal, value)


@dataclasses.dataclass
class Problem:
    line: int | None
    column: str
    value: str
    message: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        where = _("line %d") % self.line if self.line else _("file")
        if self.column:
            where += f", {self.column}"
            if self.value:
                where += f" = {self.value}"
        return f"{where}: {self.message}"


@dataclasses.dataclass
class ImportResult:
    kind: str
    filename: str
    sha256: str = ""
    format: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    # the first ANYUAN_IMPORT_MAX_PROBLEMS problems; ``more_problems`` counts the others
    problems: list[Problem] = dataclasses.field(default_factory=list)
    more_problems: int = 0
    bad_rows: int = 0
    timings: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.more_problems

    def counts(self) -> dict:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "file": self.filename,
            "sha256": self.sha256,
            "dry_run": self.dry_run,
            "ok": self.ok,
            **self.counts(),
            "problems": [p.as_dict() for p in self.problems],
            "more_problems": self.more_problems,
        }


class Row:
    """One data row on its way through the checks."""

    __slots__ = ("bad", "cells", "extra", "final", "key", "line", "m2m", "parsed", "pk", "values")

    def __init__(self, line: int, cells_: list[str]):
        self.line = line
        self.cells = cells_
        self.parsed: dict[str, Any] = {}
        self.values: dict[str, Any] = {}
        self.m2m: dict[str, list] = {}
        self.bad: set[str] = set()
        self.pk = None
        self.key = None
        self.final: dict[str, Any] | None = None
        self.extra: dict[str, Any] = {}

    def has(self, column: str) -> bool:
        """The column is in the file and its cell parsed (it may be empty: ``None``)."""
        return column in self.parsed

    def get(self, column: str, default=None):
        value = self.parsed.get(column)
        return default if value is None else value


class Refusal(Exception):
    """Raised inside the write transaction to undo it; carries the problems."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        self.problems = problems


class Context:
    """Everything one import knows: the actor, the kind, its maps and its problems."""

    def __init__(self, kind, actor):
        self.kind = kind
        self.actor = actor
        self.problems: list[Problem] = []
        self.more_problems = 0
        self.max_problems = int(settings.ANYUAN_IMPORT_MAX_PROBLEMS)
        self.bad_lines: set[int] = set()
        self.columns: dict[str, Column] = {c.name: c for c in kind.columns}
        self.present: set[str] = set()
        self.index: dict[str, int] = {}
        self._maps: dict[str, Any] = {}

    # --- problems ---------------------------------------------------------------------

    def add(self, problem: Problem) -> None:
        """List the first ``max_problems`` problems; count the others."""
        if problem.line:
            self.bad_lines.add(problem.line)
        if len(self.problems) < self.max_problems:
            self.problems.append(problem)
        else:
            self.more_problems += 1

    def error(self, row: Row | None, column: str, message, *, value: str | None = None):
        if row is not None:
            if column in row.bad:
                return  # one problem per cell is enough
            row.bad.add(column)
            if value is None:
                idx = self.index.get(column)
                value = row.cells[idx] if idx is not None and idx < len(row.cells) else ""
        col = self.columns.get(column)
        shown = col.mask(value or "") if col else (value or "")
        self.add(Problem(row.line if row else None, column, shown, str(message)))

    # --- what the actor may see -------------------------------------------------------

    @property
    def system(self) -> bool:
        return self.actor is None

    def visible(self, model):
        """The rows of ``model`` the actor may view (references must be among them)."""
        if self.actor is None:
            return model._base_manager.all()
        return model.objects.restrict(self.actor, VIEW)

    def cached(self, name: str, load: Callable[[], Any]):
        if name not in self._maps:
            self._maps[name] = load()
        return self._maps[name]

    def refmap(self, model, key_fields: tuple[str, ...], *info: str, name: str = "") -> dict:
        """``natural key → (pk, *info)`` over the visible rows (first pk wins on duplicates)."""
        name = name or f"{model._meta.label_lower}:{','.join(key_fields)}"

        def load():
            out = {}
            qs = self.visible(model).order_by("pk").values_list(*key_fields, "pk", *info)
            n = len(key_fields)
            for rec in qs.iterator(chunk_size=5000):
                key = rec[0] if n == 1 else rec[:n]
                out.setdefault(key, rec[n:])
            return out

        return self.cached(name, load)

    def in_scope(self, station_id, enterprise_id) -> bool:
        """May the actor import a row belonging to this station and enterprise?

        Mirrors :func:`anyuan.core.scoping.scope_q` for the *import* action; the rows
        written are checked again with ``restrict()`` before the transaction commits.
        """
        user = self.actor
        if user is None or user.is_superuser:
            return True
        if user.role in POLICE_ROLES:
            return station_id is not None and station_id == user.station_id
        if user.role in ENTERPRISE_ROLES:
            return enterprise_id is not None and enterprise_id == user.enterprise_id
        return False

    # --- reference helpers used by the kinds ---------------------------------------------

    def ref(self, row: Row, column: str, mapping: dict, key, *, unknown=None):
        """Look ``key`` up in ``mapping``; report an unknown reference on ``column``."""
        found = mapping.get(key)
        if found is None:
            self.error(row, column, unknown or _("Unknown, or outside your scope."))
        return found

    def station(self, row: Row, column: str = "station_code"):
        from anyuan.registry.models import Station

        code = row.get(column)
        if code is None:
            return None
        found = self.ref(row, column, self.refmap(Station, ("code",)), code)
        return found[0] if found else None


class Kind:
    """One importable kind. Subclasses declare the columns and the rules."""

    name: str = ""
    model = None
    columns: list[Column] = []
    key: tuple[str, ...] = ()
    key_column: str = ""
    # attname → column, to blame rule problems on the column the value came from
    blame: dict[str, str] = {}
    # more unique constraints to check against the stored rows: (attnames, column)
    uniques: list[tuple[tuple[str, ...], str]] = []
    # attnames the rules need from stored rows (besides the key and the written fields)
    state: tuple[str, ...] = ()
    # the column blamed when a row falls outside the actor's scope
    scope_column: str = ""
    # columns the header must have although their cells may be empty (part of the key)
    header_columns: tuple[str, ...] = ()

    # --- declarations derived from the model ---------------------------------------------

    def column_field(self, col: Column) -> str | None:
        if col.field is None:
            return None
        return col.field or col.name

    def parser(self, col: Column) -> cells.Parser:
        if col.parse is not None:
            return col.parse
        field = self.model._meta.get_field(self.column_field(col))
        return cells.text(getattr(field, "max_length", None))

    def defaults(self) -> dict:
        out = {}
        for f in self.model._meta.concrete_fields:
            if f.primary_key or f.name in ("created", "updated"):
                continue
            if isinstance(f, personal.RowKeyField):
                continue  # each new object makes its own
            out[f.attname] = f.get_default()
        return out

    # --- hooks ------------------------------------------------------------------------

    def resolve(self, row: Row, ctx: Context) -> None:
        """Turn references into ids in ``row.values`` (and ``row.m2m``)."""

    def key_of(self, values: dict):
        key = tuple(values.get(f) for f in self.key)
        if any(v is None or v == "" for v in key):
            return None
        return key

    def existing(self, ctx: Context, rows: list[Row]):
        """The stored rows the file's rows may match (a queryset, any scope)."""
        return self.model._base_manager.all()

    def check(self, row: Row, final: dict, ctx: Context) -> None:
        """The model's rules on the row's final state; report with :meth:`fail`."""

    def owner(self, final: dict, ctx: Context) -> tuple[Any, Any]:
        """(station id, enterprise id) the row belongs to, for the scope check."""
        return final.get("station_id"), final.get("enterprise_id")

    def after_check(self, rows: list[Row], ctx: Context) -> None:
        """Checks across rows (e.g. the zone tree)."""

    def write(self, ctx: Context, creates: list[Row], updates: list[Row], bar) -> None:
        bulk_write(self.model, creates, updates, bar)

    # --- helpers ----------------------------------------------------------------------

    def fail(self, ctx: Context, row: Row, attname: str, message) -> None:
        ctx.error(row, self.blame.get(attname, attname), message)


# --- phase 1 ------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    return text.strip().strip("*").strip().lower().replace(" ", "_")


def map_headers(kind: Kind, headers: list[str], header_line: int, ctx: Context):
    """``[(index, Column)]`` for the file's header, or problems."""
    by_name = {}
    for col in kind.columns:
        by_name[col.name.lower()] = col
        by_name[_header_key(col.zh)] = col
    mapping, seen = [], {}
    for idx, text in enumerate(headers):
        if not text.strip():
            continue
        col = by_name.get(_header_key(text))
        if col is None:
            ctx.add(Problem(header_line, text.strip(), "", _("Unknown column for this kind.")))
            continue
        if col.name in seen:
            ctx.add(Problem(header_line, col.name, "", _("This column appears twice.")))
            continue
        seen[col.name] = idx
        mapping.append((idx, col))
    for col in kind.columns:
        if (col.required or col.name in kind.header_columns) and col.name not in seen:
            ctx.add(Problem(header_line, col.name, "", _("This required column is missing.")))
    ctx.present = set(seen)
    ctx.index = dict(seen)
    return mapping


def _digest_attname(model, field: str | None) -> str | None:
    for f in model._meta.concrete_fields:
        if isinstance(f, personal.DigestField) and f.source == field:
            return f.attname
    return None


def check_rows(kind: Kind, table, ctx: Context, progress: Progress) -> list[Row]:
    mapping = map_headers(kind, table.headers, table.header_line, ctx)
    if ctx.problems:
        return []
    width = len(table.headers)
    parsers = [
        (
            idx,
            col,
            kind.parser(col),
            kind.column_field(col),
            _digest_attname(kind.model, kind.column_field(col)) if col.personal else None,
        )
        for idx, col in mapping
    ]
    defaults = kind.defaults()
    key_columns = {kind.blame.get(f, f) for f in kind.key} | {kind.key_column}
    rows: list[Row] = []
    keys: dict[Any, int] = {}
    limit = spreadsheets.max_rows()
    bar = progress(_("checking"), table.total)
    try:
        for line, row_cells in table.rows():
            bar.update(1)
            if not any(row_cells):
                continue
            if len(rows) >= limit:
                raise FileRefused(spreadsheets.too_many_rows().message, line)
            row = Row(line, row_cells)
            if len(row_cells) > width and any(row_cells[width:]):
                ctx.error(row, "", _("This row has more cells than the header has columns."))
            for idx, col, parse, field, digest_field in parsers:
                raw = row_cells[idx] if idx < len(row_cells) else ""
                if raw == "":
                    if col.required:
                        ctx.error(row, col.name, _("This column is required."))
                        continue
                    value = None
                elif has_control_characters(raw):
                    ctx.error(row, col.name, CONTROL_CHARACTERS_MESSAGE, value="")
                    continue
                else:
                    try:
                        value = parse(raw)
                    except cells.Invalid as e:
                        ctx.error(row, col.name, e.message)
                        continue
                row.parsed[col.name] = value
                if field is not None:
                    row.values[field] = defaults.get(field) if value is None else value
                    if digest_field:
                        row.values[digest_field] = (
                            personal.digest(col.personal, value) if value else None
                        )
            kind.resolve(row, ctx)
            row.parsed = {}
            key = kind.key_of(row.values) if not (row.bad & key_columns) else None
            if key is not None:
                first = keys.get(key)
                if first is not None:
                    ctx.error(
                        row,
                        kind.key_column,
                        _("Duplicate key: the same record is on line %d.") % first,
                    )
                else:
                    keys[key] = line
            row.key = key
            rows.append(row)
    except FileRefused as e:
        if len(rows) >= limit:  # refused as a whole: the rows' problems do not matter
            ctx.problems, ctx.more_problems, ctx.bad_lines = [], 0, set()
            rows = []
        ctx.add(Problem(e.line, "", "", e.message))
    finally:
        bar.close()
    return rows


def match_existing(kind: Kind, rows: list[Row], ctx: Context) -> dict[Any, dict]:
    """Stored rows by key (with the fields the checks need), loaded in one query."""
    encrypted = {f.attname for f in personal.encrypted_fields(kind.model)}
    fields = set(kind.key) | set(kind.state)
    for row in rows:
        fields.update(row.values)
    fields -= encrypted
    fields.discard("pk")
    row_key = personal.row_key_field(kind.model)
    if row_key is not None:  # an update re-encrypts for the stored row's key
        fields.add(row_key.attname)
    names = ["pk", *sorted(fields)]
    stored: dict[Any, dict] = {}
    for values in kind.existing(ctx, rows).order_by("pk").values(*names).iterator(chunk_size=5000):
        key = kind.key_of(values)
        if key is not None:
            stored.setdefault(key, values)
    return stored


def check_final(kind: Kind, rows: list[Row], stored: dict, ctx: Context) -> None:
    defaults = kind.defaults()
    importable = None
    if ctx.actor is not None and any(r.key in stored for r in rows if r.key is not None):
        importable = set(
            kind.model.objects.restrict(ctx.actor, IMPORT).values_list("pk", flat=True)
        )
    scope_column = kind.scope_column if kind.scope_column in ctx.columns else kind.key_column
    for row in rows:
        if row.bad:
            continue
        current = stored.get(row.key) if row.key is not None else None
        if current is not None:
            row.pk = current["pk"]
            if importable is not None and row.pk not in importable:
                # the same answer as a value taken in scope: whether a record exists out
                # of the actor's reach is not told (core.actions.not_saved)
                ctx.error(row, kind.key_column, not_saved())
                continue
            final = {**current, **row.values}
        else:
            final = {**defaults, **row.values}
        row.final = final
        kind.check(row, final, ctx)
        station_id, enterprise_id = kind.owner(final, ctx)
        row.extra["owner"] = (station_id, enterprise_id)
        if not ctx.in_scope(station_id, enterprise_id):
            ctx.error(row, scope_column, _("This row is outside your scope."))
    kind.after_check(rows, ctx)
    check_uniques(kind, rows, stored, ctx)
    compare_m2m(kind, rows)


def compare_m2m(kind: Kind, rows: list[Row]) -> None:
    """Mark rows whose many-to-many lists equal the stored ones (``extra['m2m_same']``)."""
    names = sorted({name for r in rows for name in r.m2m})
    matched = [r for r in rows if r.pk is not None and r.m2m]
    if not names or not matched:
        return
    current: dict[str, dict] = {}
    for name in names:
        field = kind.model._meta.get_field(name)
        through = field.remote_field.through
        source = field.m2m_field_name() + "_id"
        target = field.m2m_reverse_field_name() + "_id"
        links: dict[Any, set] = defaultdict(set)
        for s, t in through._base_manager.values_list(source, target).iterator(chunk_size=5000):
            links[s].add(t)
        current[name] = links
    for r in matched:
        r.extra["m2m_same"] = all(
            set(ids) == current[name].get(r.pk, set()) for name, ids in r.m2m.items()
        )


def check_uniques(kind: Kind, rows: list[Row], stored: dict, ctx: Context) -> None:
    if not kind.uniques:
        return
    matched = {r.pk for r in rows if r.pk is not None}
    fields = sorted({f for fields, _col in kind.uniques for f in fields})
    others: list[dict] = []
    if any(any(f in r.values for f in fields) for r in rows):
        others = [
            v
            for v in kind.model._base_manager.values("pk", *fields).iterator(chunk_size=5000)
            if v["pk"] not in matched
        ]
    for unique_fields, column in kind.uniques:
        taken: dict[tuple, int | None] = {}
        for v in others:
            value = tuple(v[f] for f in unique_fields)
            if all(x not in (None, "") for x in value):
                taken.setdefault(value, None)
        for row in rows:
            if row.final is None or row.bad or not any(f in row.values for f in unique_fields):
                continue
            value = tuple(row.final.get(f) for f in unique_fields)
            if any(x in (None, "") for x in value):
                continue
            if value in taken:
                first = taken[value]
                if first is None:
                    ctx.error(row, column, not_saved())
                else:
                    ctx.error(row, column, _("Also used on line %d.") % first)
            else:
                taken[value] = row.line


# --- phase 2 ------------------------------------------------------------------------------


def is_unchanged(kind: Kind, row: Row, stored: dict) -> bool:
    if row.extra.get("changed"):
        return False
    current = stored[row.key]
    encrypted = {f.attname for f in personal.encrypted_fields(kind.model)}
    for field, value in row.values.items():
        if field in encrypted:
            continue  # compared through its digest
        if current.get(field) != value:
            return False
    return not row.m2m or row.extra.get("m2m_same", False)


def bulk_write(model, creates: list[Row], updates: list[Row], bar) -> None:
    """``bulk_create`` encrypts each new object for its own row; ``bulk_update`` does not
    call ``pre_save``, so updated objects are bound to their stored row key here."""
    row_key = personal.row_key_field(model)
    for start in range(0, len(creates), BATCH):
        chunk = creates[start : start + BATCH]
        objs = [model(**r.values) for r in chunk]
        model._base_manager.bulk_create(objs, batch_size=500)
        for r, obj in zip(chunk, objs, strict=True):
            r.pk = obj.pk
        bar.update(len(chunk))
    now = timezone.now()
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for r in updates:
        groups[tuple(sorted(r.values))].append(r)
    for fields, group in groups.items():
        for start in range(0, len(group), BATCH):
            chunk = group[start : start + BATCH]
            objs = []
            for r in chunk:
                obj = model(pk=r.pk, **r.values)
                if row_key is not None:
                    setattr(obj, row_key.attname, r.final[row_key.attname])
                    personal.bind_personal_data(obj)
                obj.updated = now
                objs.append(obj)
            if fields:
                model._base_manager.bulk_update(objs, [*fields, "updated"], batch_size=500)
            bar.update(len(chunk))


def write_m2m(model, rows: list[Row]) -> None:
    names = sorted({name for r in rows for name in r.m2m})
    for name in names:
        field = model._meta.get_field(name)
        through = field.remote_field.through
        source = field.m2m_field_name() + "_id"
        target = field.m2m_reverse_field_name() + "_id"
        todo = [r for r in rows if name in r.m2m and not r.extra.get("m2m_same")]
        for start in range(0, len(todo), 500):
            chunk = todo[start : start + 500]
            through._base_manager.filter(**{f"{source}__in": [r.pk for r in chunk]}).delete()
            through._base_manager.bulk_create(
                [through(**{source: r.pk, target: t}) for r in chunk for t in r.m2m[name]],
                batch_size=500,
            )


def verify_scope(kind: Kind, pks: list, ctx: Context) -> None:
    """Every written row must be within the actor's import scope, by ``restrict()``."""
    if ctx.actor is None:
        return
    allowed = kind.model.objects.restrict(ctx.actor, IMPORT)
    seen = 0
    for start in range(0, len(pks), 500):
        seen += allowed.filter(pk__in=pks[start : start + 500]).count()
    if seen != len(pks):
        raise Refusal([Problem(None, "", "", _("Some rows would be outside your scope."))])


# --- entry points -------------------------------------------------------------------------


def file_sha256(fileobj: BinaryIO) -> str:
    fileobj.seek(0)
    h = hashlib.sha256()
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        h.update(chunk)
    fileobj.seek(0)
    return h.hexdigest()


def import_file(
    kind_name: str,
    fileobj: BinaryIO,
    *,
    filename: str = "",
    actor=None,
    dry_run: bool = False,
    progress: Progress | None = None,
    remote_addr: str | None = None,
) -> ImportResult:
    """Import one file of ``kind_name`` as ``actor`` (``None``: the system).

    Raises ``KeyError`` for an unknown kind, ``PermissionDenied`` if the actor may not
    import this kind at all, and ``RateLimited`` past ``ANYUAN_IMPORT_CHECK_LIMIT`` imports
    by the actor in its window; every other problem is in the result, and then nothing
    was written.

    A dry run, or an import refused for its problems, tells which of the file's keys are
    taken; so each is audited (``dry_run`` / ``written: false``) as well as counted.
    """
    from anyuan.registry.importing.kinds import KINDS

    kind = KINDS[kind_name]
    if actor is not None and not user_can(actor, kind.model, IMPORT):
        raise PermissionDenied(_("You may not import %s.") % kind.model._meta.verbose_name_plural)
    if actor is not None:
        within_limit(
            actor,
            "import",
            settings.ANYUAN_IMPORT_CHECK_LIMIT,
            _("Too many imports and checks: try again in %(minutes)d minutes."),
        )
    result = _import_file(kind, kind_name, fileobj, filename, actor, dry_run, progress, remote_addr)
    if dry_run or not result.ok:
        audit.record(
            actor,
            AuditAction.IMPORT,
            object_type=kind.model._meta.label_lower,
            object_repr=(
                f"{result.filename or kind_name} ({result.rows} × "
                f"{kind.model._meta.verbose_name_plural}, "
                f"{_('dry run') if dry_run else _('refused')})"
            )[:200],
            after={
                "kind": kind_name,
                "file": result.filename,
                "sha256": result.sha256,
                "dry_run": dry_run,
                "written": False,
                "rows": result.rows,
                "problems": len(result.problems),
            },
            remote_addr=remote_addr,
        )
    return result


def _import_file(kind, kind_name, fileobj, filename, actor, dry_run, progress, remote_addr):
    progress = progress or no_progress
    result = ImportResult(kind=kind_name, filename=Path(filename or "").name, dry_run=dry_run)
    result.sha256 = file_sha256(fileobj)
    ctx = Context(kind, actor)
    started = time.perf_counter()
    try:
        table = open_table(fileobj, filename)
    except FileRefused as e:
        result.problems.append(Problem(e.line, "", "", e.message))
        return result
    result.format = table.format
    try:
        rows = check_rows(kind, table, ctx, progress)
    finally:
        table.close()
    result.rows = len(rows)
    stored: dict = {}
    if rows:  # check every row that could be read, so that one report names all problems
        stored = match_existing(kind, rows, ctx)
        check_final(kind, rows, stored, ctx)
    result.timings["validate_s"] = time.perf_counter() - started
    if ctx.problems:
        result.problems = sorted(ctx.problems, key=lambda p: (p.line or 0, p.column))
        result.more_problems = ctx.more_problems
        result.bad_rows = len(ctx.bad_lines)
        return result
    creates = [r for r in rows if r.pk is None]
    updates = [r for r in rows if r.pk is not None and not is_unchanged(kind, r, stored)]
    result.created, result.updated = len(creates), len(updates)
    result.unchanged = len(rows) - len(creates) - len(updates)
    if dry_run:
        return result
    started = time.perf_counter()
    bar = progress(_("writing"), len(creates) + len(updates))
    try:
        with transaction.atomic():
            kind.write(ctx, creates, updates, bar)
            write_m2m(kind.model, creates + updates)
            verify_scope(kind, [r.pk for r in creates + updates], ctx)
            stations = {r.extra["owner"][0] for r in rows}
            enterprises = {r.extra["owner"][1] for r in rows}
            audit.record(
                actor,
                AuditAction.IMPORT,
                object_type=kind.model._meta.label_lower,
                object_repr=(
                    f"{result.filename or kind_name} "
                    f"({len(rows)} × {kind.model._meta.verbose_name_plural})"
                )[:200],
                after={
                    **result.counts(),
                    "kind": kind_name,
                    "file": result.filename,
                    "sha256": result.sha256,
                    "format": result.format,
                },
                remote_addr=remote_addr,
                station_id=stations.pop() if len(stations) == 1 else None,
                enterprise_id=enterprises.pop() if len(enterprises) == 1 else None,
            )
            publish_on_commit(
                f"{kind.model._meta.label_lower}.imported",
                {"kind": kind_name, **result.counts()},
            )
    except Refusal as e:
        result.problems = e.problems
    except IntegrityError:
        # the checks above should have found it; the database's own text may quote values
        result.problems = [Problem(None, "", "", not_saved())]
    finally:
        bar.close()
    if result.problems:
        result.created = result.updated = result.unchanged = 0
    result.timings["write_s"] = time.perf_counter() - started
    return result


def kinds_in_order() -> list[str]:
    from anyuan.registry.importing.kinds import KINDS

    return list(KINDS)


def files_in(directory: Path) -> list[tuple[str, Path]]:
    """``(kind, file)`` for every ``KIND.csv`` / ``KIND.xlsx`` in ``directory``, in order."""
    found = []
    for kind in kinds_in_order():
        for ext in (".csv", ".xlsx"):
            path = directory / f"{kind}{ext}"
            if path.is_file():
                found.append((kind, path))
    return found


def import_directory(
    directory: Path,
    *,
    actor=None,
    dry_run: bool = False,
    progress: Progress | None = None,
    on_result: Callable[[ImportResult], None] | None = None,
) -> list[ImportResult]:
    """Import every kind's file in ``directory`` in one transaction: all files or none.

    Stops at the first file with problems. A dry run writes each file (later files refer
    to earlier ones) and rolls everything back at the end.
    """
    results: list[ImportResult] = []
    found = files_in(directory)
    kinds = [kind for kind, _path in found]
    for kind in sorted({k for k in kinds if kinds.count(k) > 1}):
        result = ImportResult(kind=kind, filename=f"{kind}.csv / {kind}.xlsx", dry_run=dry_run)
        result.problems.append(
            Problem(None, "", "", _("Both a CSV and an XLSX file of this kind: keep one."))
        )
        if on_result:
            on_result(result)
        return [result]
    with transaction.atomic():
        for kind, path in found:
            with path.open("rb") as f:
                result = import_file(kind, f, filename=path.name, actor=actor, progress=progress)
            result.dry_run = dry_run
            results.append(result)
            if on_result:
                on_result(result)
            if not result.ok:
                transaction.set_rollback(True)
                return results
        if dry_run:
            transaction.set_rollback(True)
    return results


__all__ = [
    "BATCH",
    "Column",
    "Context",
    "ImportResult",
    "Kind",
    "Problem",
    "Row",
    "files_in",
    "import_directory",
    "import_file",
]
