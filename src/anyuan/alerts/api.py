"""The alerts API: the queue, one alert with its notes, and the lifecycle steps.

Mounted at /api/v1/alerts. Rows are fetched through ``restrict()``; an alert outside the
caller's scope is a 404. A step the alert's state does not allow is a 409; a missing or
bad input (a note, the person to dispatch) is a 422.

Rule rows (``/rules``) are plain CRUD through ``core.api.crud``: scoped like everything
else, written by the generic actions (audited, scope checked before and after).
"""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from anyuan.alerts import actions
from anyuan.alerts.models import Alert, Rule
from anyuan.alerts.rules import DEFAULTS
from anyuan.core.api import DbInt, ErrorOut, Pagination, client_ip, crud, inline_choices
from anyuan.core.roles import CHANGE, VIEW, user_can
from anyuan.core.schemas import model_schemas

router = Router(tags=["alerts"])
EXTRA = {"x-anyuan-model": "alerts.alert"}


class NoteOut(Schema):
    id: int
    author_id: int | None
    author_name: str
    at: dt.datetime
    text: str


class AlertOut(Schema):
    id: int
    station_id: int
    enterprise_id: int | None
    zone_id: int | None
    device_id: int | None
    type: str
    severity: str
    source_key: str
    person_id: int | None
    vehicle_id: int | None
    credential: str
    title: str
    detail: dict
    state: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    repeat_count: int
    acknowledged_by_id: int | None
    acknowledged_at: dt.datetime | None
    dispatched_to_id: int | None
    dispatched_at: dt.datetime | None
    resolved_by_id: int | None
    resolved_at: dt.datetime | None
    escalated_at: dt.datetime | None
    escalation_level: int


class AlertDetailOut(AlertOut):
    notes: list[NoteOut]

    @staticmethod
    def resolve_notes(obj):
        return list(obj.notes.all())


class AlertFilters(Schema):
    state: inline_choices(Alert.State) | None = None
    type: Alert.Type | None = None
    severity: inline_choices(Alert.Severity) | None = None
    zone: DbInt | None = None
    since: dt.datetime | None = Field(None, description="Seen at or after this time.")


# Bodies have defaults so that an out-of-scope id is a 404 whatever the body; the actions
# say what is missing (422).
class NoteIn(Schema):
    note: str = ""


class DispatchIn(Schema):
    to: DbInt | None = Field(None, description="Id of the user (guard or officer) sent.")
    note: str = ""


class TextIn(Schema):
    text: str = ""


def _get(request, pk: int, action: str) -> Alert:
    try:
        return Alert.objects.restrict(request.auth, action).get(pk=pk)
    except Alert.DoesNotExist:
        raise Http404 from None


def _step(request, pk, func, **kwargs):
    alert = _get(request, pk, CHANGE)
    try:
        func(request.auth, alert, remote_addr=client_ip(request), **kwargs)
    except actions.TransitionRefused as e:
        return Status(409, {"detail": e.message})
    return Status(200, _get(request, pk, VIEW))


@router.get("", response=list[AlertOut], operation_id="list_alert", summary="The alert queue")
@paginate(Pagination)
def list_alerts(request, filters: Query[AlertFilters]):
    qs = Alert.objects.restrict(request.auth, VIEW)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.severity:
        qs = qs.filter(severity=filters.severity)
    if filters.zone is not None:
        qs = qs.filter(zone_id=filters.zone)
    if filters.since is not None:
        qs = qs.filter(last_seen__gte=filters.since)
    return qs.order_by("-last_seen", "-pk")


@router.get("/{int:pk}", response=AlertDetailOut, operation_id="get_alert", openapi_extra=EXTRA)
def get_alert(request, pk: int):
    return _get(request, pk, VIEW)


@router.post(
    "/{int:pk}/acknowledge",
    response={200: AlertDetailOut, 409: ErrorOut},
    operation_id="acknowledge_alert",
    url_name="acknowledge_alert",
    openapi_extra=EXTRA,
)
def acknowledge(request, pk: int, payload: NoteIn | None = None):
    return _step(request, pk, actions.acknowledge, note=payload.note if payload else "")


@router.post(
    "/{int:pk}/dispatch",
    response={200: AlertDetailOut, 409: ErrorOut},
    operation_id="dispatch_alert",
    openapi_extra=EXTRA,
)
def dispatch(request, pk: int, payload: DispatchIn):
    return _step(request, pk, actions.dispatch, to=payload.to, note=payload.note)


@router.post(
    "/{int:pk}/resolve",
    response={200: AlertDetailOut, 409: ErrorOut},
    operation_id="resolve_alert",
    openapi_extra=EXTRA,
)
def resolve(request, pk: int, payload: NoteIn):
    return _step(request, pk, actions.resolve, note=payload.note)


@router.post(
    "/{int:pk}/false-alarm",
    response={200: AlertDetailOut, 409: ErrorOut},
    operation_id="false_alarm_alert",
    openapi_extra=EXTRA,
)
def false_alarm(request, pk: int, payload: NoteIn):
    return _step(request, pk, actions.mark_false_alarm, note=payload.note)


@router.post(
    "/{int:pk}/notes",
    response={201: NoteOut},
    operation_id="add_alert_note",
    openapi_extra=EXTRA,
)
def add_note(request, pk: int, payload: TextIn):
    alert = _get(request, pk, CHANGE)
    note = actions.add_note(request.auth, alert, payload.text, remote_addr=client_ip(request))
    return Status(201, note)


# --- rule rows ---------------------------------------------------------------------------

RULE_FIELDS = [
    "station",
    "type",
    "enabled",
    "severity",
    "park",
    "enterprise",
    "zone",
    "thresholds",
    "weekdays",
    "time_from",
    "time_until",
    "note",
]


class RuleFilters(Schema):
    type: Alert.Type | None = None
    enabled: bool | None = None
    station: DbInt | None = None
    park: DbInt | None = None
    enterprise: DbInt | None = None
    zone: DbInt | None = None


class RuleDefaultOut(Schema):
    type: str
    label: str
    enabled: bool
    severity: str
    thresholds: dict
    weekdays: str
    time_from: dt.time | None
    time_until: dt.time | None


@router.get(
    "/rules/defaults",
    response=list[RuleDefaultOut],
    operation_id="list_rule_defaults",
    tags=["alert rules"],
    summary="What each rule type does when no rule row applies",
)
def rule_defaults(request):
    if not user_can(request.auth, Rule, VIEW):
        raise PermissionDenied(_("You may not do this."))
    labels = dict(Alert.Type.choices)
    return [
        {
            "type": t,
            "label": str(labels.get(t, t)),
            "enabled": d.enabled,
            "severity": d.severity,
            "thresholds": d.thresholds,
            "weekdays": d.weekdays,
            "time_from": d.time_from,
            "time_until": d.time_until,
        }
        for t, d in DEFAULTS.items()
    ]


RuleOut, RuleCreate, RulePatch = model_schemas(Rule, RULE_FIELDS, read_only=("created", "updated"))
crud(
    router,
    Rule,
    out=RuleOut,
    create=RuleCreate,
    update=RulePatch,
    filters=RuleFilters,
    path="/rules",
)
