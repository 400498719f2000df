"""Import of police incidents from the CSV or XLSX exports of the station's systems.

Columns (Chinese or English headers, in any order; see docs/incidents.md):

=================  ===========================  =============================================
header             also                          value
=================  ===========================  =============================================
警情编号            number                        unique per station; a known number updates
类别 / 警情类别      category                      盗窃, 诈骗, 纠纷, 打架斗殴, 交通, 火灾, 其他
                                                  (or the English codes: theft, fraud, ...)
发生时间 / 报警时间  occurred_at / time             2026-03-01 14:20, 2026/3/1 14:20, an Excel
                                                  date
地点                place                         free text
企业 / 单位         enterprise                    the enterprise's name or credit code
警格 / 网格         grid                          the grid's name (empty: the enterprise's)
是否破案 / 破案      solved                        是/否, 1/0, yes/no, 已破/未破
简要案情            summary                       free text
=================  ===========================  =============================================

All or nothing: a file with any bad row changes nothing and every bad row is reported
(row number, column, what is wrong). The file is refused whole if it is too large
(``ANYUAN_INCIDENT_IMPORT_MAX_BYTES``, default 20 MB) or not a CSV or XLSX file.
"""

import csv
import datetime as dt
import io
from itertools import islice

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.core import audit, spreadsheets
from anyuan.core.actions import CONTROL_CHARACTERS_MESSAGE, ValidationFailed
from anyuan.core.models import AuditAction
from anyuan.core.roles import IMPORT, VIEW, user_can
from anyuan.core.text import has_control_characters
from anyuan.incidents.models import Category, Incident
from anyuan.registry.models import Enterprise, PoliceGrid, Station

HEADERS = {
    "number": ("警情编号", "编号", "number", "incident number"),
    "category": ("类别", "警情类别", "category"),
    "occurred_at": ("发生时间", "报警时间", "时间", "occurred_at", "time"),
    "place": ("地点", "发生地点", "place"),
    "enterprise": ("企业", "单位", "企业名称", "enterprise"),
    "grid": ("警格", "网格", "grid"),
    "solved": ("是否破案", "破案", "solved"),
    "summary": ("简要案情", "案情", "summary"),
}
REQUIRED = ("number", "category", "occurred_at")
CATEGORY_WORDS = {
    "盗窃": Category.THEFT, "偷盗": Category.THEFT, "诈骗": Category.FRAUD,
    "纠纷": Category.DISPUTE, "打架斗殴": Category.FIGHT, "斗殴": Category.FIGHT,
    "打架": Category.FIGHT, "交通": Category.TRAFFIC, "交通事故": Category.TRAFFIC,
    "火灾": Category.FIRE, "火警": Category.FIRE, "其他": Category.OTHER,
}  # fmt: skip
TRUE_WORDS = {"是", "1", "yes", "y", "true", "已破", "破案", "已侦破"}
FALSE_WORDS = {"否", "0", "no", "n", "false", "未破", "未破案", ""}
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                "%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日")  # fmt: skip


def max_rows() -> int:
    return spreadsheets.max_rows()


def max_bytes() -> int:
    return int(settings.ANYUAN_INCIDENT_IMPORT_MAX_BYTES)


def _rows_of(name: str, raw: bytes) -> list[list]:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext == "xlsx":
        if not raw.startswith(b"PK\x03\x04"):
            raise ValidationFailed({"file": [_("The file's content is not an XLSX workbook.")]})
        try:
            book, sheet = spreadsheets.open_xlsx(io.BytesIO(raw))
        except spreadsheets.Unreadable as e:
            raise ValidationFailed({"file": [e.message]}) from None
        try:
            # one row more than allowed (and the header) is enough to refuse
            return [list(r) for r in islice(sheet.iter_rows(values_only=True), max_rows() + 2)]
        except Exception:
            raise ValidationFailed({"file": [_("The XLSX workbook cannot be read.")]}) from None
        finally:
            book.close()
    if ext == "csv":
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationFailed({"file": [_("The CSV file is neither UTF-8 nor GB18030 text.")]})
        if "\x00" in text:
            raise ValidationFailed({"file": [_("Text may not contain NUL characters.")]})
        return list(csv.reader(io.StringIO(text)))
    raise ValidationFailed(
        {"file": [_("Refused file type “%(ext)s”; give a CSV or XLSX file.") % {"ext": ext or "—"}]}
    )


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_time(value) -> dt.datetime:
    tz = timezone.get_current_timezone()
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=tz)
    text = _text(value)
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_("not a date and time: “%s”") % text[:40]) from None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=tz)


def import_file(actor, name: str, raw: bytes, *, station=None, remote_addr=None) -> dict:
    """Import the incidents in a CSV/XLSX file into the actor's station; counts of created
    and updated rows. Raises ValidationFailed (nothing changed) with every bad row."""
    if not user_can(actor, Incident, IMPORT):
        raise PermissionDenied(_("You may not do this."))
    if len(raw) > max_bytes():
        raise ValidationFailed(
            {"file": [_("The file is too large (%(size)s MB; at most %(max)s MB).")
                      % {"size": round(len(raw) / 2**20, 1), "max": round(max_bytes() / 2**20, 1)}]}
        )  # fmt: skip
    station_id = getattr(station, "pk", station) or actor.station_id
    if not Station.objects.restrict(actor, VIEW).filter(pk=station_id).exists():
        raise ValidationFailed({"station": [_("Unknown reference.")]})
    rows = _rows_of(name, raw)
    rows = [r for r in rows if any(_text(v) for v in r)]
    if not rows:
        raise ValidationFailed({"file": [_("The file has no rows.")]})
    if len(rows) > max_rows() + 1:
        raise ValidationFailed({"file": [_("At most %d rows per file.") % max_rows()]})
    header = [_text(h).lower() for h in rows[0]]
    columns = {}
    for key, names in HEADERS.items():
        for i, h in enumerate(header):
            if h in {n.lower() for n in names}:
                columns[key] = i
                break
    missing = [HEADERS[k][0] for k in REQUIRED if k not in columns]
    if missing:
        raise ValidationFailed({"file": [_("Missing columns: %s.") % ", ".join(missing)]})
    enterprises = Enterprise.objects.filter(station_id=station_id)
    by_name = {e.name: e for e in enterprises}
    by_code = {e.credit_code: e for e in enterprises}
    grids = {g.name: g for g in PoliceGrid.objects.filter(station_id=station_id)}
    labels = {str(label): value for value, label in Category.choices}
    errors: list[str] = []
    parsed = []
    seen = set()

    def cell(row, key):
        i = columns.get(key)
        return row[i] if i is not None and i < len(row) else None

    for n, row in enumerate(rows[1:], start=2):
        problems = []
        for key in ("number", "place", "enterprise", "grid", "summary"):
            if has_control_characters(_text(cell(row, key))):
                problems.append(f"{HEADERS[key][0]}: {CONTROL_CHARACTERS_MESSAGE}")
        number = _text(cell(row, "number"))[:40]
        if not number:
            problems.append(_("%(col)s: empty") % {"col": HEADERS["number"][0]})
        elif number in seen:
            problems.append(
                _("%(col)s: “%(v)s” twice in the file") % {"col": HEADERS["number"][0], "v": number}
            )
        seen.add(number)
        word = _text(cell(row, "category"))
        category = (
            CATEGORY_WORDS.get(word)
            or labels.get(word)
            or (word.lower() if word.lower() in Category.values else None)
        )
        if category is None:
            problems.append(
                _("%(col)s: unknown “%(v)s”") % {"col": HEADERS["category"][0], "v": word[:40]}
            )
        try:
            occurred = parse_time(cell(row, "occurred_at"))
        except ValueError as e:
            problems.append(f"{HEADERS['occurred_at'][0]}: {e}")
            occurred = None
        ent_text = _text(cell(row, "enterprise"))
        enterprise = by_name.get(ent_text) or by_code.get(ent_text.upper()) if ent_text else None
        if ent_text and enterprise is None:
            problems.append(
                _("%(col)s: unknown “%(v)s”")
                % {"col": HEADERS["enterprise"][0], "v": ent_text[:60]}
            )
        grid_text = _text(cell(row, "grid"))
        grid = grids.get(grid_text) if grid_text else (enterprise.grid if enterprise else None)
        if grid_text and grid is None:
            problems.append(
                _("%(col)s: unknown “%(v)s”") % {"col": HEADERS["grid"][0], "v": grid_text[:60]}
            )
        solved_text = _text(cell(row, "solved")).lower()
        if solved_text in TRUE_WORDS:
            solved = True
        elif solved_text in FALSE_WORDS:
            solved = False
        else:
            problems.append(
                _("%(col)s: “%(v)s” is not yes or no")
                % {"col": HEADERS["solved"][0], "v": solved_text[:20]}
            )
            solved = False
        if problems:
            errors.append(_("Row %(n)d: %(problems)s") % {"n": n, "problems": "; ".join(problems)})
            if len(errors) >= 50:
                errors.append(_("… and maybe more; nothing was imported."))
                break
            continue
        parsed.append(
            {
                "number": number,
                "category": category,
                "occurred_at": occurred,
                "place": _text(cell(row, "place"))[:200],
                "enterprise": enterprise,
                "grid": grid,
                "solved": solved,
                "summary": _text(cell(row, "summary")),
            }
        )
    if errors:
        raise ValidationFailed({"file": errors})
    created = updated = 0
    with transaction.atomic():
        existing = {
            i.number: i
            for i in Incident.objects.filter(
                station_id=station_id, number__in=[p["number"] for p in parsed]
            )
        }
        new = []
        for p in parsed:
            row = existing.get(p["number"])
            if row is None:
                new.append(Incident(station_id=station_id, **p))
                continue
            for k, v in p.items():
                setattr(row, k, v)
            row.save()
            updated += 1
        Incident.objects.bulk_create(new, batch_size=1000)
        created = len(new)
        audit.record(
            actor,
            AuditAction.IMPORT,
            object_type=Incident._meta.label_lower,
            object_repr=f"{created + updated} × {Incident._meta.verbose_name_plural} ({name[:80]})",
            after={"created": created, "updated": updated, "file": name[:200]},
            remote_addr=remote_addr,
            station_id=station_id,
        )
    return {"created": created, "updated": updated}
