"""The incidents API: list, one incident, add and change (through
:mod:`anyuan.incidents.actions`, as the pages), and the statistics as JSON — year on year
(同比) and month on month (环比), computed by :mod:`anyuan.incidents.stats` as on the
statistics page.

Mounted at /api/v1/incidents. Rows are fetched through ``restrict()``; an incident outside
the caller's scope is a 404. Bad input is a 422 with the field, and changes nothing.
"""

import datetime as dt
from typing import Literal

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from anyuan.core.actions import ValidationFailed
from anyuan.core.api import DbInt, Pagination, client_ip, inline_choices
from anyuan.core.roles import CHANGE, VIEW, user_can
from anyuan.core.schemas import model_schemas
from anyuan.incidents import actions, stats
from anyuan.incidents.models import Category, Incident
from anyuan.registry.models import Enterprise, PoliceGrid

router = Router(tags=["incidents"])
EXTRA = {"x-anyuan-model": "incidents.incident"}

FIELDS = ["station", "number", "category", "occurred_at", "place", "enterprise", "grid",
          "solved", "summary"]  # fmt: skip

IncidentOut, IncidentCreate, IncidentPatch = model_schemas(
    Incident, FIELDS, read_only=("created", "updated")
)


class IncidentIn(IncidentCreate):
    station: DbInt | None = Field(
        None,
        alias="station_id",
        validation_alias="station_id",
        serialization_alias="station_id",
        description="Default: the caller's station.",
    )


class IncidentFilters(Schema):
    category: inline_choices(Category) | None = None
    solved: bool | None = None
    enterprise: DbInt | None = None
    grid: DbInt | None = None
    since: dt.datetime | None = Field(None, description="Occurred at or after this time.")
    until: dt.datetime | None = Field(None, description="Occurred before this time.")
    q: str | None = Field(None, max_length=100, description="Number, place or summary.")


def _get(request, pk: int, action: str) -> Incident:
    return get_object_or_404(Incident.objects.restrict(request.auth, action), pk=pk)


@router.get(
    "", response=list[IncidentOut], operation_id="list_incident", summary="Police incidents"
)
@paginate(Pagination)
def list_incidents(request, filters: Query[IncidentFilters]):
    qs = Incident.objects.restrict(request.auth, VIEW)
    if filters.category is not None:
        qs = qs.filter(category=filters.category)
    if filters.solved is not None:
        qs = qs.filter(solved=filters.solved)
    if filters.enterprise is not None:
        qs = qs.filter(enterprise_id=filters.enterprise)
    if filters.grid is not None:
        qs = qs.filter(grid_id=filters.grid)
    if filters.since is not None:
        qs = qs.filter(occurred_at__gte=filters.since)
    if filters.until is not None:
        qs = qs.filter(occurred_at__lt=filters.until)
    if filters.q:
        if "\x00" in filters.q:  # PostgreSQL cannot compare text with NUL characters
            raise ValidationFailed({"q": [_("Text may not contain NUL characters.")]})
        q = filters.q
        qs = qs.filter(Q(number__icontains=q) | Q(place__icontains=q) | Q(summary__icontains=q))
    return qs.order_by("-occurred_at", "-pk")


@router.get("/{int:pk}", response=IncidentOut, operation_id="get_incident", openapi_extra=EXTRA)
def get_incident(request, pk: int):
    return _get(request, pk, VIEW)


@router.post("", response={201: IncidentOut}, operation_id="create_incident")
def create_incident(request, payload: IncidentIn):
    obj = actions.create(request.auth, payload.dict(exclude_unset=True),
                         remote_addr=client_ip(request))  # fmt: skip
    return Status(201, obj)


@router.patch(
    "/{int:pk}", response=IncidentOut, operation_id="update_incident", openapi_extra=EXTRA
)
def update_incident(request, pk: int, payload: IncidentPatch):
    obj = _get(request, pk, CHANGE)
    return actions.update(request.auth, obj, payload.dict(exclude_unset=True),
                          remote_addr=client_ip(request))  # fmt: skip


# --- statistics ----------------------------------------------------------------------------


class ChangeRow(Schema):
    now: int
    year_before: int
    yoy: float | None = Field(description="Year on year (同比), percent; null: nothing before.")
    before: int
    mom: float | None = Field(description="Against the period before (环比), percent.")


class CompareRow(ChangeRow):
    key: int | str | None
    label: str


class CompareOut(Schema):
    dimension: str
    period: str
    year_before_period: str
    before_period: str
    rows: list[CompareRow]
    total: ChangeRow


class MonthRow(ChangeRow):
    month: int
    label: str


class IncidentStatsOut(Schema):
    year: int
    month: int
    span: str
    period: str
    tables: dict[str, CompareOut]
    by_month: list[MonthRow]
    solved: float | None = Field(description="Share solved in the period, percent.")


class IncidentStatsFilters(Schema):
    year: int | None = Field(None, ge=2000, le=2100, description="Default: this year.")
    month: int | None = Field(
        None, ge=1, le=12, description="Default: this month this year, else December."
    )
    span: Literal["month", "ytd", "year"] = Field(
        "month", description="The month, the year up to the month, or the whole year."
    )
    category: inline_choices(Category) | None = None
    enterprise: DbInt | None = None
    grid: DbInt | None = None


@router.get(
    "/stats",
    response=IncidentStatsOut,
    operation_id="incident_stats",
    summary="Counts by category, enterprise, grid and month, year on year and month on month",
)
def incident_stats(request, filters: Query[IncidentStatsFilters]):
    user = request.auth
    if not user_can(user, Incident, VIEW):
        raise PermissionDenied(_("You may not do this."))
    today = timezone.localdate()
    year = filters.year or today.year
    month = filters.month or (today.month if year == today.year else 12)
    period = {
        "month": stats.Period.month(year, month),
        "ytd": stats.Period.year_to(year, month),
        "year": stats.Period(year),
    }[filters.span]
    qs = Incident.objects.restrict(user, VIEW)
    if filters.category is not None:
        qs = qs.filter(category=filters.category)
    errors = {}
    for name, model in (("enterprise", Enterprise), ("grid", PoliceGrid)):
        pk = getattr(filters, name)
        if pk is None:
            continue
        if not model.objects.restrict(user, VIEW).filter(pk=pk).exists():
            errors[name] = [_("Unknown reference.")]
        qs = qs.filter(**{f"{name}_id": pk})
    if errors:
        raise ValidationFailed(errors)
    return {
        "year": year,
        "month": month,
        "span": filters.span,
        "period": period.label,
        "tables": {d: stats.compare(qs, d, period) for d in stats.DIMENSIONS},
        "by_month": stats.by_month(qs, year),
        "solved": stats.solved_share(qs, period),
    }
