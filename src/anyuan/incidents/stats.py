"""Incident figures as the police judge their work: counts by category, enterprise, grid and
month, compared year on year (同比: the same period a year before) and month on month (环比:
the period just before), e.g. "enterprise thefts −33.3%".

A period is a calendar month, the months of a year up to a month (year to date), or a
whole year, in local time. A change is ``(now − before) / before`` in percent, rounded to
one decimal; with nothing before there is no percentage (``None``, shown as "—").
Every function takes a queryset the caller has already scoped.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import ExtractMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.core.spreadsheets import xlsx_bytes
from anyuan.incidents.models import Category


def change(now: int, before: int) -> float | None:
    if not before:
        return None
    return round((now - before) * 100 / before, 1)


def _start(year: int, month: int) -> dt.datetime:
    while month > 12:
        year, month = year + 1, month - 12
    while month < 1:
        year, month = year - 1, month + 12
    return dt.datetime(year, month, 1, tzinfo=timezone.get_current_timezone())


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in local time, from month ``first`` to month ``last`` of ``year``."""

    year: int
    first: int = 1
    last: int = 12

    @classmethod
    def month(cls, year: int, month: int) -> "Period":
        return cls(year, month, month)

    @classmethod
    def year_to(cls, year: int, month: int) -> "Period":
        return cls(year, 1, month)

    @property
    def start(self) -> dt.datetime:
        return _start(self.year, self.first)

    @property
    def end(self) -> dt.datetime:
        return _start(self.year, self.last + 1)

    def year_before(self) -> "Period":
        return Period(self.year - 1, self.first, self.last)

    def before(self) -> "Period":
        """The period of the same length just before (the month before a month)."""
        length = self.last - self.first + 1
        start = _start(self.year, self.first - length)
        return Period(start.year, start.month, start.month + length - 1)

    @property
    def label(self) -> str:
        if self.first == self.last:
            return f"{self.year}-{self.first:02d}"
        if (self.first, self.last) == (1, 12):
            return str(self.year)
        return f"{self.year}-{self.first:02d}…{self.last:02d}"

    def filter(self, qs):
        return qs.filter(occurred_at__gte=self.start, occurred_at__lt=self.end)


DIMENSIONS = {
    "category": "category",
    "enterprise": "enterprise",
    "grid": "grid",
}


def _counts(qs, period: Period, key: str) -> dict:
    return dict(period.filter(qs).values_list(key).annotate(n=Count("pk")).order_by())


def _labels(qs, dimension: str) -> dict:
    if dimension == "category":
        return {k: str(v) for k, v in Category.choices}
    if dimension == "enterprise":
        return dict(qs.values_list("enterprise_id", "enterprise__name").distinct())
    return dict(qs.values_list("grid_id", "grid__name").distinct())


def compare(qs, dimension: str, period: Period) -> dict:
    """Rows of (label, now, a year before, year-on-year %, the period before, its %) per
    value of ``dimension``, largest first, and the total."""
    key = DIMENSIONS[dimension]
    now = _counts(qs, period, key)
    year_before = _counts(qs, period.year_before(), key)
    before = _counts(qs, period.before(), key)
    labels = _labels(qs, dimension)
    none_label = {"enterprise": _("No enterprise"), "grid": _("No police grid")}.get(dimension, "—")
    keys = set(now) | set(year_before) | set(before)
    rows = []
    for k in keys:
        a, b, c = now.get(k, 0), year_before.get(k, 0), before.get(k, 0)
        rows.append(
            {
                "key": k,
                "label": labels.get(k) or none_label,
                "now": a,
                "year_before": b,
                "yoy": change(a, b),
                "before": c,
                "mom": change(a, c),
            }
        )
    rows.sort(key=lambda r: (-r["now"], -r["year_before"], str(r["label"])))
    total_now, total_yb, total_b = (
        sum(now.values()),
        sum(year_before.values()),
        sum(before.values()),
    )
    return {
        "dimension": dimension,
        "period": period.label,
        "year_before_period": period.year_before().label,
        "before_period": period.before().label,
        "rows": rows,
        "total": {
            "now": total_now,
            "year_before": total_yb,
            "yoy": change(total_now, total_yb),
            "before": total_b,
            "mom": change(total_now, total_b),
        },
    }


def by_month(qs, year: int) -> list[dict]:
    """The twelve months of ``year`` against the same months a year before."""
    tz = timezone.get_current_timezone()

    def months(y):
        found = dict(
            Period(y)
            .filter(qs)
            .annotate(m=ExtractMonth("occurred_at", tzinfo=tz))
            .values_list("m")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return [found.get(m, 0) for m in range(1, 13)]

    now, before = months(year), months(year - 1)
    rows = []
    for m in range(1, 13):
        previous = now[m - 2] if m > 1 else before[11]
        rows.append(
            {
                "month": m,
                "label": f"{year}-{m:02d}",
                "now": now[m - 1],
                "year_before": before[m - 1],
                "yoy": change(now[m - 1], before[m - 1]),
                "before": previous,
                "mom": change(now[m - 1], previous),
            }
        )
    return rows


def solved_share(qs, period: Period) -> float | None:
    rows = period.filter(qs)
    total = rows.count()
    return round(100 * rows.filter(solved=True).count() / total, 1) if total else None


def fmt_change(value) -> str:
    if value is None:
        return "—"
    return f"{value:+.1f}%".replace("-", "−")


def xlsx(qs, period: Period, year: int) -> bytes:
    """The tables as one workbook: a sheet per dimension and the months (counts as numbers,
    every text — an enterprise's or a grid's name — as text, never a formula)."""
    titles = {
        "category": _("By category"),
        "enterprise": _("By enterprise"),
        "grid": _("By police grid"),
    }
    head = [_("Period"), period.label, period.year_before().label, _("Year on year"),
            period.before().label, _("Month on month")]  # fmt: skip
    sheets = []
    for dimension, title in titles.items():
        table = compare(qs, dimension, period)
        rows = [["", _("Incidents"), _("A year before"), _("Year on year"),
                 _("Period before"), _("Period on period")], head]  # fmt: skip
        for r in table["rows"]:
            rows.append([str(r["label"]), r["now"], r["year_before"], fmt_change(r["yoy"]),
                         r["before"], fmt_change(r["mom"])])  # fmt: skip
        t = table["total"]
        rows.append([_("Total"), t["now"], t["year_before"], fmt_change(t["yoy"]), t["before"],
                     fmt_change(t["mom"])])  # fmt: skip
        sheets.append((str(title), rows))
    months = [[_("Month"), str(year), str(year - 1), _("Year on year"), _("Month before"),
               _("Month on month")]]  # fmt: skip
    for r in by_month(qs, year):
        months.append([r["label"], r["now"], r["year_before"], fmt_change(r["yoy"]), r["before"],
                       fmt_change(r["mom"])])  # fmt: skip
    sheets.append((str(_("By month")), months))
    return xlsx_bytes(sheets)
