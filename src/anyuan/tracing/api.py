"""REST endpoints of contact tracing, mounted at /api/v1/tracing.

``POST /runs`` runs a trace (audited, with its reason) and answers the stored run;
``GET /runs`` lists the runs in reach; ``GET /runs/{pk}`` one run with its result;
``GET /runs/{pk}.xlsx`` the export (police only; audited).
"""

import datetime as dt

from django.http import Http404, HttpResponse
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import field_validator

from anyuan.core.actions import DB_INT_MAX
from anyuan.core.api import DbInt, Pagination, client_ip
from anyuan.core.models import REASON_MAX_LENGTH
from anyuan.core.roles import VIEW
from anyuan.tracing import actions, export
from anyuan.tracing.models import Rule, TraceRun

router = Router(tags=["tracing"])
RUN_EXTRA = {"x-anyuan-model": "tracing.tracerun"}


class TraceIn(Schema):
    # the schema states the limits the action checks, so that clients (and the API fuzzing)
    # see what a valid question is
    people: list[DbInt] = Field(
        default_factory=list, max_length=actions.MAX_INDEX, description="Index people (ids)"
    )
    plate: str | None = Field(None, max_length=16, description="Or an index vehicle's plate")
    from_: dt.datetime | None = Field(
        None, alias="from", description="Window start (default: 14 days before its end)"
    )
    to: dt.datetime | None = Field(None, description="Window end (default: now)")
    minutes: int = Field(
        15, ge=1, le=actions.MAX_MINUTES, description="Minimum contact in minutes (1–1440)"
    )
    rule: Rule = Field(
        Rule.SINGLE,
        description="single: one stay together of at least `minutes` in one zone; "
        "cumulative: at least `minutes` together within 24 hours",
    )
    hops: int = Field(2, ge=1, le=3, description="1: close contacts; 2: and secondary; 3: one more")
    reason: str = Field(
        ...,
        min_length=4,
        max_length=REASON_MAX_LENGTH,
        description="Why (audited; at least 4 characters)",
    )

    @field_validator("from_", "to")
    @classmethod
    def _aware(cls, value):
        if value is not None and value.tzinfo is None:
            raise ValueError("Give a UTC offset (e.g. +08:00).")
        return value


class Ref(Schema):
    kind: str
    id: int | str
    name: str
    enterprise: str = ""


class TraceRunOut(Schema):
    id: int
    created: dt.datetime
    user: str | None
    reason: str
    window_start: dt.datetime
    window_end: dt.datetime
    minutes: int
    rule: str
    hops: int
    contacts: int = Field(description="Close contacts (all of them)")
    secondary: int = Field(description="Contacts at hops 2 and 3 (all of them)")
    duration_ms: int

    @staticmethod
    def resolve_user(obj):
        return obj.user.get_username() if obj.user_id else None


class TraceRunDetail(TraceRunOut):
    result: dict = Field(
        description="index, trajectory, contacts (ranked by exposure, at most 2,000 per "
        "hop, each with up to 10 meetings), edges, counts per hop, truncated"
    )


def visible_run(user, pk: int, action: str = VIEW) -> TraceRun:
    if not isinstance(pk, int) or not 0 < pk <= DB_INT_MAX:
        raise Http404
    run = TraceRun.objects.restrict(user, action).select_related("user").filter(pk=pk).first()
    if run is None:
        raise Http404
    return run


@router.post(
    "/runs",
    response={201: TraceRunDetail},
    operation_id="run_trace",
    summary="Trace the contacts of index people or a vehicle (audited with the reason)",
)
def run_trace(request, body: TraceIn):
    run = actions.run_trace(
        request.auth,
        {
            "people": body.people,
            "plate": body.plate,
            "start": body.from_,
            "end": body.to,
            "minutes": body.minutes,
            "rule": body.rule,
            "hops": body.hops,
            "reason": body.reason,
        },
        remote_addr=client_ip(request),
    )
    return Status(201, run)


@router.get("/runs", response=list[TraceRunOut], operation_id="list_traces", summary="Trace runs")
@paginate(Pagination)
def list_runs(request):
    return (
        TraceRun.objects.restrict(request.auth, VIEW)
        .select_related("user")
        .defer("result")
        .order_by("-created", "-id")
    )


@router.get(
    "/runs/{int:pk}",
    response=TraceRunDetail,
    operation_id="get_trace",
    summary="A trace run with its result",
    openapi_extra=RUN_EXTRA,
)
def get_run(request, pk: DbInt):
    return visible_run(request.auth, pk)


def xlsx_response(user, run: TraceRun, *, remote_addr=None) -> HttpResponse:
    actions.record_trace_export(user, run, "xlsx", remote_addr=remote_addr)
    response = HttpResponse(
        export.workbook(run),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    stamp = timezone.localtime(run.created).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="trace-{run.pk}-{stamp}.xlsx"'
    return response


@router.get(
    "/runs/{int:pk}.xlsx",
    operation_id="export_trace",
    summary="A trace run as XLSX (an export: needs the export permission; audited)",
    openapi_extra={
        **RUN_EXTRA,
        "responses": {
            "200": {
                "description": "XLSX workbook",
                "content": {
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    }
                },
            }
        },
    },
)
def export_run(request, pk: DbInt):
    run = visible_run(request.auth, pk)
    return xlsx_response(request.auth, run, remote_addr=client_ip(request))
