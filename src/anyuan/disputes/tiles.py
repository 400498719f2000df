"""Dashboard tiles of the disputes: open cases, the share settled in the workshop (tier 1)
and in the park (tiers 1–2) this year, and breached time limits."""

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from anyuan.core.roles import VIEW, user_can
from anyuan.dashboard.tiles import Tile
from anyuan.disputes import stats
from anyuan.disputes.models import Case


def _pct(value) -> str:
    return "—" if value is None else f"{value:g}%"


def tiles(user, place) -> list[Tile]:
    if not user_can(user, Case, VIEW):
        return []
    qs = Case.objects.restrict(user, VIEW).filter(place.q("enterprise"))
    year = timezone.localdate().year
    all_open = stats.summary(qs)
    this_year = stats.summary(stats.for_year(qs, year))
    url = reverse("disputes:case-list")
    stats_url = reverse("disputes:stats")
    settled = this_year["settled"]
    return [
        Tile(
            key="disputes.open",
            title=_("Open disputes"),
            value=all_open["open"],
            unit=pgettext("unit of dispute cases", "cases"),
            detail=_("%(n)s past their time limit") % {"n": all_open["overdue"]},
            url=url,
            level="warning" if all_open["overdue"] else "normal",
        ),
        Tile(
            key="disputes.tier1",
            title=_("Settled in the workshop"),
            value=_pct(this_year["share_tier1"]),
            detail=_("%(n)s of %(of)s settled this year")
            % {"n": this_year["tier1"], "of": settled},
            url=stats_url,
            extra={"share": this_year["share_tier1"], "year": year},
        ),
        Tile(
            key="disputes.park",
            title=_("Settled inside the park"),
            value=_pct(this_year["share_park"]),
            detail=_("tiers 1–2: %(n)s of %(of)s") % {"n": this_year["park"], "of": settled},
            url=stats_url,
            extra={"share": this_year["share_park"], "year": year},
        ),
        Tile(
            key="disputes.breaches",
            title=_("Time limits breached"),
            value=this_year["breached"],
            unit=pgettext("unit of dispute cases", "cases"),
            detail=_("this year"),
            url=url,
            level="danger" if this_year["breached"] else "normal",
        ),
    ]
