"""The disputes API: cases (list, one case, filing, the steps of the state machine, files,
inviting partners), group-incident warnings (read), warning information (list, one, report)
and the statistics.

Mounted at /api/v1/disputes. Rows are fetched through ``restrict()``; an object outside
the caller's scope is a 404. Every change goes through :mod:`anyuan.disputes.actions`, as
the pages do: a step the case's state (or tier) does not allow is a 409 with the action's
message and changes nothing; a missing or bad input (a note, where to refer) is a 422; a
step that is not the caller's to take (another tier's, or a reader's) is a 403.

Never in an answer: the parties' access codes (they are issued and shown once on the case
page; "New access code" there replaces a lost one) and personal data in clear (a party's
phone is masked). Who reported a case, a step or warning information is police-only (the
models' ``disclosure``): the schemas withhold it from everyone else but the reporters
themselves (:func:`anyuan.core.schemas.disclosing`).
"""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from anyuan.core.actions import ValidationFailed
from anyuan.core.api import DbInt, ErrorOut, Pagination, client_ip
from anyuan.core.personal import may_look_up
from anyuan.core.roles import PERSONAL_ROLES, VIEW, is_police, user_can
from anyuan.core.schemas import disclosing
from anyuan.disputes import actions, stats
from anyuan.disputes.models import (
    Case,
    CaseAttachment,
    CaseParty,
    CaseTransition,
    DisputeType,
    GroupWarning,
    Referral,
    Severity,
    State,
    Tier,
    WarningInfo,
)

router = Router(tags=["disputes"])
CASE = {"x-anyuan-model": "disputes.case"}
GROUP_WARNING = {"x-anyuan-model": "disputes.groupwarning"}
WARNING_INFO = {"x-anyuan-model": "disputes.warninginfo"}


# --- schemas -------------------------------------------------------------------------------


class CaseOut(Schema):
    id: int
    number: str
    station_id: int
    enterprise_id: int | None
    grid_id: int | None
    zone_id: int | None
    place: str
    type: str
    severity: str
    people_involved: int
    threats: bool
    gathering: bool
    summary: str
    description: str
    tier: int
    state: str
    reported_at: dt.datetime
    reporter_name: str
    first_contact_at: dt.datetime | None
    accepted_at: dt.datetime | None
    escalated_at: dt.datetime | None
    settled_at: dt.datetime | None
    settled_tier: int | None
    closed_at: dt.datetime | None
    referred_to: str
    due_contact: dt.datetime | None
    due_close: dt.datetime | None
    breaches: int
    satisfaction: float | None


CaseOut = disclosing(Case, CaseOut)


class PartyOut(Schema):
    id: int
    kind: str
    name: str
    phone: str = Field(description="Masked.")
    code_issued_at: dt.datetime | None
    last_visit: dt.datetime | None
    satisfaction: int | None
    rated_at: dt.datetime | None

    @staticmethod
    def resolve_phone(obj):
        return str(obj.phone) if obj.phone else ""


class StepOut(Schema):
    name: str
    label: str
    source: str
    target: str
    tier_from: int | None
    tier_to: int | None
    at: dt.datetime
    actor_name: str
    note: str
    breach: bool

    @staticmethod
    def resolve_label(obj):
        return str(actions.STEP_LABELS.get(obj.name, obj.name))


StepOut = disclosing(CaseTransition, StepOut)


class AttachmentOut(Schema):
    id: int
    kind: str
    name: str
    content_type: str
    size: int
    uploaded_at: dt.datetime
    url: str = Field(description="The scoped download (a page, for a signed-in person).")

    @staticmethod
    def resolve_url(obj):
        return obj.get_absolute_url()


class PartnerOut(Schema):
    id: int
    name: str


class CaseDetailOut(CaseOut):
    parties: list[PartyOut]
    history: list[StepOut]
    attachments: list[AttachmentOut]
    partners: list[PartnerOut]
    group_warnings: list[int] = Field(description="Ids of its group-incident warnings (police).")
    steps: list[str] = Field(description="The steps the caller may take now.")


class CaseFilters(Schema):
    state: State | None = None
    tier: Tier | None = None
    type: DisputeType | None = None
    severity: Severity | None = None
    enterprise: DbInt | None = None


class PartyIn(Schema):
    name: str = ""
    kind: CaseParty.Kind = CaseParty.Kind.APPLICANT
    phone: str = ""


class CaseIn(Schema):
    type: DisputeType
    summary: str = ""
    severity: Severity = Severity.GENERAL
    people_involved: int = Field(2, ge=1, le=100000)
    threats: bool = False
    gathering: bool = False
    enterprise: DbInt | None = Field(None, description="Police only; others file for their own.")
    zone: DbInt | None = None
    place: str = ""
    description: str = ""
    parties: list[PartyIn] = Field(default_factory=list)


# Bodies have defaults so that an out-of-scope id is a 404 whatever the body; the actions
# say what is missing (422).
class NoteIn(Schema):
    note: str = ""


class ReferIn(Schema):
    note: str = ""
    to: str = Field("", description="One of: " + ", ".join(Referral.values))


class InviteIn(Schema):
    partner: DbInt | None = Field(None, description="Id of the partner's user account.")


# --- cases ---------------------------------------------------------------------------------


def _get(request, pk: int) -> Case:
    return get_object_or_404(Case.objects.restrict(request.auth, VIEW), pk=pk)


def _police(user) -> bool:
    return is_police(user)


class CaseDetail:
    """A case and the parts its answer adds; an object rather than a dict, so that the
    schema's disclosure resolvers see the case itself (whose report it is)."""

    def __init__(self, case: Case, **parts):
        self._case, self._parts = case, parts

    def __getattr__(self, name):
        parts = self.__dict__.get("_parts", {})
        return parts[name] if name in parts else getattr(self._case, name)


def detail(user, case: Case) -> CaseDetail:
    """One case as the case page shows it to ``user``."""
    police = _police(user)
    partners = case.partners.all() if police or user.role not in PERSONAL_ROLES else []
    return CaseDetail(
        case,
        parties=list(case.parties.all()),
        history=list(case.transitions.all().order_by("at", "pk")),
        attachments=list(case.attachments.all()),
        partners=[{"id": u.pk, "name": u.get_full_name() or u.get_username()} for u in partners],
        group_warnings=list(case.group_warnings.values_list("pk", flat=True)) if police else [],
        steps=actions.available_steps(user, case),
    )


def _step(request, pk: int, name: str, **kwargs):
    case = _get(request, pk)
    try:
        actions.step(request.auth, case, name, remote_addr=client_ip(request), **kwargs)
    except actions.TransitionRefused as e:
        return Status(409, {"detail": e.message})
    return Status(200, detail(request.auth, _get(request, pk)))


@router.get(
    "/cases", response=list[CaseOut], operation_id="list_dispute_case", summary="Dispute cases"
)
@paginate(Pagination)
def list_cases(request, filters: Query[CaseFilters]):
    qs = Case.objects.restrict(request.auth, VIEW)
    for name in ("state", "tier", "type", "severity"):
        value = getattr(filters, name)
        if value is not None:
            qs = qs.filter(**{name: value})
    if filters.enterprise is not None:
        qs = qs.filter(enterprise_id=filters.enterprise)
    return qs.order_by("-reported_at", "-pk")


@router.post(
    "/cases",
    response={201: CaseDetailOut},
    operation_id="file_dispute_case",
    summary="File a case (the parties' access codes are issued on the case page)",
)
def file_case(request, payload: CaseIn):
    data = payload.dict(exclude={"parties"})
    parties = [p.dict() for p in payload.parties]
    case, _codes = actions.file_case(request.auth, data, parties, remote_addr=client_ip(request))
    return Status(201, detail(request.auth, Case.objects.get(pk=case.pk)))


@router.get(
    "/cases/{int:pk}",
    response=CaseDetailOut,
    operation_id="get_dispute_case",
    openapi_extra=CASE,
)
def get_case(request, pk: int):
    return detail(request.auth, _get(request, pk))


def _register_step(name: str, body: type[Schema], summary: str):
    @router.post(
        f"/cases/{{int:pk}}/{name}",
        response={200: CaseDetailOut, 409: ErrorOut},
        operation_id=f"{name}_dispute_case",
        summary=summary,
        openapi_extra=CASE,
    )
    def take_step(request, pk: int, payload: body | None = None):
        fields = payload.dict() if payload is not None else {}
        return _step(request, pk, name, **fields)

    take_step.__name__ = f"{name}_case"
    return take_step


for _name, _body, _summary in [
    ("accept", NoteIn, "Accept the case (the tier's first contact)"),
    ("mediate", NoteIn, "Start mediating"),
    ("agree", NoteIn, "Agreement reached (the signed agreement must be attached: /files)"),
    ("visit", NoteIn, "Return visit (note required)"),
    ("close", NoteIn, "Close the case"),
    ("escalate", NoteIn, "Escalate to the next tier (note required)"),
    ("refer", ReferIn, "Refer to arbitration, a court or a police case (note required)"),
    ("withdraw", NoteIn, "Withdrawn (note required)"),
]:
    _register_step(_name, _body, _summary)


@router.post(
    "/cases/{int:pk}/files",
    response={201: AttachmentOut},
    operation_id="add_dispute_case_file",
    summary="Add a file (PDF, JPG, PNG, DOCX; kind evidence, agreement or other)",
    openapi_extra=CASE,
)
def add_file(
    request,
    pk: int,
    file: File[UploadedFile] = None,
    kind: Form[str] = CaseAttachment.Kind.EVIDENCE,
):
    case = _get(request, pk)
    if file is None:
        raise ValidationFailed({"file": [_("Choose a file.")]})
    row = actions.add_attachment(request.auth, case, file, kind, remote_addr=client_ip(request))
    return Status(201, row)


@router.post(
    "/cases/{int:pk}/invite",
    response={200: CaseDetailOut, 409: ErrorOut},
    operation_id="invite_dispute_partner",
    summary="Invite a partner to a tier-3 case (police)",
    openapi_extra=CASE,
)
def invite(request, pk: int, payload: InviteIn | None = None):
    case = _get(request, pk)
    partner = payload.partner if payload is not None else None
    try:
        actions.invite_partner(request.auth, case, partner, remote_addr=client_ip(request))
    except actions.TransitionRefused as e:
        return Status(409, {"detail": e.message})
    return Status(200, detail(request.auth, _get(request, pk)))


# --- statistics ----------------------------------------------------------------------------


class SummaryOut(Schema):
    total: int
    open: int
    settled: int
    tier1: int
    park: int
    breached: int
    overdue: int
    rated: int
    satisfaction: float | None
    days_to_close: float | None
    share_tier1: float | None
    share_park: float | None


class RowOut(Schema):
    key: int | str | None
    label: str
    total: int
    open: int
    settled: int
    share_tier1: float | None
    breached: int
    satisfaction: float | None


class SettledOut(Schema):
    key: int
    label: str
    count: int


class TablesOut(Schema):
    tier: list[RowOut]
    settled_tier: list[SettledOut]
    type: list[RowOut]
    enterprise: list[RowOut]
    grid: list[RowOut]


class StatsOut(Schema):
    year: int
    summary: SummaryOut
    tables: TablesOut


class StatsFilters(Schema):
    year: int | None = Field(None, ge=2000, le=2100, description="Default: this year.")


@router.get(
    "/stats",
    response=StatsOut,
    operation_id="dispute_stats",
    summary="The figures of the statistics page, for the cases in the caller's scope",
)
def case_stats(request, filters: Query[StatsFilters]):
    user = request.auth
    if not user_can(user, Case, VIEW):
        raise PermissionDenied(_("You may not do this."))
    year = filters.year or timezone.localdate().year
    qs = stats.for_year(Case.objects.restrict(user, VIEW), year)
    return {"year": year, "summary": stats.summary(qs), "tables": stats.breakdowns(qs)}


# --- group-incident warnings (read) ----------------------------------------------------------


class GroupWarningOut(Schema):
    id: int
    station_id: int
    enterprise_id: int | None
    type: str
    reason: str
    first_at: dt.datetime
    last_at: dt.datetime
    case_count: int
    cases: list[int]
    alert_id: int | None
    created: dt.datetime

    @staticmethod
    def resolve_cases(obj):
        return [c.pk for c in obj.cases.all()]


class GroupWarningFilters(Schema):
    type: DisputeType | None = None
    reason: GroupWarning.Reason | None = None
    enterprise: DbInt | None = None


@router.get(
    "/warnings",
    response=list[GroupWarningOut],
    operation_id="list_dispute_group_warning",
    summary="Group-incident warnings (police)",
)
@paginate(Pagination)
def list_group_warnings(request, filters: Query[GroupWarningFilters]):
    qs = GroupWarning.objects.restrict(request.auth, VIEW).prefetch_related("cases")
    if filters.type is not None:
        qs = qs.filter(type=filters.type)
    if filters.reason is not None:
        qs = qs.filter(reason=filters.reason)
    if filters.enterprise is not None:
        qs = qs.filter(enterprise_id=filters.enterprise)
    return qs.order_by("-last_at", "-pk")


@router.get(
    "/warnings/{int:pk}",
    response=GroupWarningOut,
    operation_id="get_dispute_group_warning",
    openapi_extra=GROUP_WARNING,
)
def get_group_warning(request, pk: int):
    return get_object_or_404(GroupWarning.objects.restrict(request.auth, VIEW), pk=pk)


# --- warning information -------------------------------------------------------------------


class WarningInfoOut(Schema):
    id: int
    station_id: int
    enterprise_id: int | None
    category: str
    source: str
    level: str
    title: str
    content: str
    reported_at: dt.datetime
    verified: bool
    verified_note: str
    cases: list[int] = Field(description="Linked cases the caller may view.")
    created: dt.datetime
    updated: dt.datetime

    @staticmethod
    def resolve_cases(obj, context):
        visible = getattr(obj, "visible_cases", None)  # prefetched by the list
        if visible is None:
            user = context["request"].auth
            visible = Case.objects.restrict(user, VIEW).filter(warning_infos=obj)
        return [case.pk for case in visible]


WarningInfoOut = disclosing(WarningInfo, WarningInfoOut)


class WarningInfoIn(Schema):
    category: WarningInfo.Category
    level: WarningInfo.Level = WarningInfo.Level.MEDIUM
    title: str = ""
    content: str = ""
    # police only (ignored for others, who report for their own enterprise)
    enterprise: DbInt | None = None
    source: WarningInfo.Source | None = None
    reported_at: dt.datetime | None = None
    verified: bool | None = None
    verified_note: str | None = None
    cases: list[DbInt] = Field(default_factory=list)


class WarningInfoFilters(Schema):
    category: WarningInfo.Category | None = None
    source: WarningInfo.Source | None = None
    level: WarningInfo.Level | None = None
    verified: bool | None = None
    enterprise: DbInt | None = None


@router.get(
    "/information",
    response=list[WarningInfoOut],
    operation_id="list_dispute_warning_info",
    summary="Warning information (预警性信息)",
)
@paginate(Pagination)
def list_warning_info(request, filters: Query[WarningInfoFilters]):
    # the linked cases the caller may view, one query for the page rather than one a row
    visible = Prefetch(
        "cases",
        queryset=Case.objects.restrict(request.auth, VIEW).only("pk"),
        to_attr="visible_cases",
    )
    qs = WarningInfo.objects.restrict(request.auth, VIEW).prefetch_related(visible)
    for name in ("category", "source", "level", "verified"):
        value = getattr(filters, name)
        if value is not None and may_look_up(request.auth, WarningInfo, name):
            qs = qs.filter(**{name: value})
    if filters.enterprise is not None:
        qs = qs.filter(enterprise_id=filters.enterprise)
    return qs.order_by("-reported_at", "-pk")


@router.get(
    "/information/{int:pk}",
    response=WarningInfoOut,
    operation_id="get_dispute_warning_info",
    openapi_extra=WARNING_INFO,
)
def get_warning_info(request, pk: int):
    return get_object_or_404(WarningInfo.objects.restrict(request.auth, VIEW), pk=pk)


@router.post(
    "/information",
    response={201: WarningInfoOut},
    operation_id="report_dispute_warning_info",
    summary="Report warning information",
)
def report_warning_info(request, payload: WarningInfoIn):
    data = payload.dict(exclude_none=True)
    row = actions.report_warning(request.auth, data, remote_addr=client_ip(request))
    return Status(201, row)
