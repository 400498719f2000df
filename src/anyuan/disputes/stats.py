"""Dispute figures: by tier, type, enterprise and grid; the share settled inside the
workshop (tier 1) and inside the park (tiers 1–2); time to close; breaches; satisfaction.

"Settled" is a case that reached a mediation agreement (agreement, return visit, closed);
the shares are of the settled cases, by the tier they were settled in (小事不出车间、大事
不出厂区). Every function takes a queryset the caller has already scoped.
"""

import datetime as dt

from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.disputes.models import (
    FINAL_STATES,
    OPEN_STATES,
    SETTLED_STATES,
    Case,
    DisputeType,
    Tier,
)


def year_range(year: int) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    return dt.datetime(year, 1, 1, tzinfo=tz), dt.datetime(year + 1, 1, 1, tzinfo=tz)


def share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def summary(qs) -> dict:
    """The headline figures of the cases in ``qs``."""
    figures = qs.aggregate(
        total=Count("pk"),
        open=Count("pk", filter=Q(state__in=OPEN_STATES)),
        settled=Count("pk", filter=Q(state__in=SETTLED_STATES)),
        tier1=Count("pk", filter=Q(state__in=SETTLED_STATES, settled_tier=Tier.WORKSHOP)),
        park=Count("pk", filter=Q(state__in=SETTLED_STATES, settled_tier__lte=Tier.ENTERPRISE)),
        breached=Count("pk", filter=Q(breaches__gt=0)),
        overdue=Count("pk", filter=Q(state__in=OPEN_STATES, due_close__lt=timezone.now())),
        mean_satisfaction=Avg("satisfaction"),
        rated=Count("pk", filter=Q(satisfaction__isnull=False)),
    )
    figures["satisfaction"] = figures.pop("mean_satisfaction")
    closed = list(
        qs.filter(state__in=FINAL_STATES, closed_at__isnull=False).values_list(
            "reported_at", "closed_at"
        )
    )
    days = [(c - r).total_seconds() / 86400 for r, c in closed]
    figures["days_to_close"] = round(sum(days) / len(days), 1) if days else None
    figures["share_tier1"] = share(figures["tier1"], figures["settled"])
    figures["share_park"] = share(figures["park"], figures["settled"])
    if figures["satisfaction"] is not None:
        figures["satisfaction"] = round(figures["satisfaction"], 2)
    return figures


def _rows(qs, key: str, label_of) -> list[dict]:
    rows = []
    for r in (
        qs.values(key)
        .annotate(
            total=Count("pk"),
            open=Count("pk", filter=Q(state__in=OPEN_STATES)),
            settled=Count("pk", filter=Q(state__in=SETTLED_STATES)),
            tier1=Count("pk", filter=Q(state__in=SETTLED_STATES, settled_tier=Tier.WORKSHOP)),
            breached=Count("pk", filter=Q(breaches__gt=0)),
            mean_satisfaction=Avg("satisfaction"),
        )
        .order_by("-total", key)
    ):
        rows.append(
            {
                "key": r[key],
                "label": label_of(r),
                "total": r["total"],
                "open": r["open"],
                "settled": r["settled"],
                "share_tier1": share(r["tier1"], r["settled"]),
                "breached": r["breached"],
                "satisfaction": (
                    round(r["mean_satisfaction"], 2) if r["mean_satisfaction"] else None
                ),
            }
        )
    return rows


def breakdowns(qs) -> dict:
    tiers = dict(Tier.choices)
    types = dict(DisputeType.choices)
    names = dict(qs.values_list("enterprise_id", "enterprise__name").distinct())
    grids = dict(qs.values_list("grid_id", "grid__name").distinct())
    by_tier = _rows(qs, "tier", lambda r: str(tiers.get(r["tier"], r["tier"])))
    by_tier.sort(key=lambda r: r["key"])
    return {
        "tier": by_tier,
        "settled_tier": [
            {
                "key": t,
                "label": str(label),
                "count": qs.filter(state__in=SETTLED_STATES, settled_tier=t).count(),
            }
            for t, label in Tier.choices
        ],
        "type": _rows(qs, "type", lambda r: str(types.get(r["type"], r["type"]))),
        "enterprise": _rows(
            qs, "enterprise", lambda r: names.get(r["enterprise"]) or _("No enterprise")
        ),
        "grid": _rows(qs, "grid", lambda r: grids.get(r["grid"]) or _("No police grid")),
    }


def for_year(qs, year: int):
    start, end = year_range(year)
    return qs.filter(reported_at__gte=start, reported_at__lt=end)


__all__ = ["Case", "breakdowns", "for_year", "summary"]
