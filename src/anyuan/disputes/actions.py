"""Every change to a dispute case: filing, the steps of the state machine, partners, files,
the parties' access codes and ratings, and the group-incident warning.

Each runs in one transaction: permission and scope checks, the step through django-fsm-2
(a step the current state does not allow is refused with a clear message and changes
nothing), one :class:`~anyuan.disputes.models.CaseTransition` row (who, when, note — the
history the parties see), one audit record and a live message to the station's police and
the case's enterprise.
"""

import secrets
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Avg
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed

from anyuan.core import audit
from anyuan.core.actions import ValidationFailed, check_text
from anyuan.core.models import AuditAction
from anyuan.core.personal import digest
from anyuan.core.roles import (
    ADD,
    CHANGE,
    ENTERPRISE_ROLES,
    PERSONAL_ROLES,
    POLICE_ROLES,
    VIEW,
    Role,
    is_police,
    user_can,
)
from anyuan.core.system import SYSTEM
from anyuan.disputes import routing, workdays
from anyuan.disputes.models import (
    TOP_TIER,
    Case,
    CaseAttachment,
    CaseParty,
    CaseTransition,
    DisputeType,
    Referral,
    Severity,
    State,
    WarningInfo,
)
from anyuan.live import actions as live

TOPIC = "dispute"
NOTE_MAX = 4000

STEPS = ("accept", "mediate", "agree", "visit", "close", "escalate", "refer", "withdraw")
NOTE_REQUIRED = frozenset({"escalate", "refer", "withdraw", "visit"})
STEP_LABELS = {
    "report": gettext_lazy("Reported"),
    "accept": gettext_lazy("Accepted"),
    "mediate": gettext_lazy("Mediation started"),
    "agree": gettext_lazy("Agreement reached"),
    "visit": gettext_lazy("Return visit"),
    "close": gettext_lazy("Closed"),
    "escalate": gettext_lazy("Escalated"),
    "refer": gettext_lazy("Referred"),
    "withdraw": gettext_lazy("Withdrawn"),
    "breach": gettext_lazy("Time limit breached"),
    "invite": gettext_lazy("Partner invited"),
}


class TransitionRefused(ValidationFailed):
    """The case's state (or tier) does not allow this step."""

    def __init__(self, message: str):
        super().__init__({"state": [message]})
        self.message = message


# --- helpers -------------------------------------------------------------------------------


def _user(actor):
    return actor if getattr(actor, "pk", None) and hasattr(actor, "role") else None


def _name(actor) -> str:
    return actor.get_username() if hasattr(actor, "get_username") else str(actor)


def _clean_note(note, required: bool) -> str:
    note = (note or "").strip()
    check_text({"note": note})
    if required and not note:
        raise ValidationFailed({"note": [_("Give a reason or note (required for this step).")]})
    if len(note) > NOTE_MAX:
        raise ValidationFailed({"note": [_("At most %d characters.") % NOTE_MAX]})
    return note


def payload(case: Case, step: str) -> dict:
    return {
        "id": case.pk,
        "number": case.number,
        "step": step,
        "state": case.state,
        "tier": case.tier,
        "type": case.type,
        "enterprise": case.enterprise_id,
        "due_close": case.due_close.isoformat() if case.due_close else None,
    }


def _publish(case: Case, step: str) -> None:
    live.publish(TOPIC, payload(case, step), station=case.station_id, enterprise=case.enterprise_id)


def set_deadlines(case: Case, start) -> None:
    contact, result = routing.limits(case.tier, case.type)
    case.due_contact = workdays.add_working_days(start, contact)
    case.due_close = workdays.add_working_days(start, result)
    case.reminded_contact = case.reminded_close = None


def _record(case, name, source, tier_from, actor, note="", breach=False, at=None) -> CaseTransition:
    return CaseTransition.objects.create(
        case=case,
        name=name,
        source=source,
        target=case.state,
        tier_from=tier_from,
        tier_to=case.tier,
        at=at or timezone.now(),
        actor=_user(actor),
        actor_name=_name(actor),
        note=note,
        breach=breach,
    )


# --- filing --------------------------------------------------------------------------------


def _next_number(station, at) -> str:
    day = timezone.localtime(at).date()
    prefix = f"{station.code}-JF{day:%Y%m%d}-"
    taken = Case.objects.filter(number__startswith=prefix).count()
    return f"{prefix}{taken + 1:03d}"


def _place_of(actor, data):
    """(station, enterprise) of a new case: the police choose the enterprise in their
    jurisdiction; everyone else files for their own enterprise."""
    from anyuan.registry.models import Enterprise, Station

    if is_police(actor):
        enterprise = data.get("enterprise")
        if enterprise not in (None, ""):
            pk = getattr(enterprise, "pk", enterprise)
            enterprise = Enterprise.objects.restrict(actor, VIEW).filter(pk=pk).first()
            if enterprise is None:
                raise ValidationFailed({"enterprise": [_("Unknown reference.")]})
            return enterprise.station, enterprise
        station = Station.objects.filter(pk=actor.station_id).first()
        if station is None:
            raise ValidationFailed({"station": [_("Unknown reference.")]})
        return station, None
    if actor.role in ENTERPRISE_ROLES or actor.role in PERSONAL_ROLES:
        enterprise = Enterprise.objects.filter(pk=actor.enterprise_id).first()
        if enterprise is not None:
            return enterprise.station, enterprise
        station = Station.objects.filter(pk=actor.station_id).first()
        if station is not None:
            return station, None
    raise PermissionDenied(_("You may not do this."))


def _zone_of(zone, station, enterprise):
    from anyuan.registry.models import Zone

    if zone in (None, ""):
        return None
    pk = getattr(zone, "pk", zone)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise ValidationFailed({"zone": [_("Unknown reference.")]}) from None
    qs = Zone.objects.filter(pk=pk, park__station=station)
    qs = qs.filter(enterprise=enterprise) if enterprise else qs.filter(enterprise__isnull=True)
    found = qs.first()
    if found is None:
        # an enterprise's case may also happen in a park-shared zone of its park
        found = Zone.objects.filter(pk=pk, park__station=station, enterprise__isnull=True).first()
    if found is None:
        raise ValidationFailed({"zone": [_("Unknown reference.")]})
    return found


def _choice(data, name, choices, default=None):
    value = data.get(name, default)
    if value not in choices:
        raise ValidationFailed({name: [_("Choose one of the given values.")]})
    return value


def file_case(actor, data: dict, parties: list[dict], files=(), *, remote_addr=None, at=None):
    """File a case; ``(case, {party id: access code})`` — the codes are shown once.

    ``data``: type, severity, summary, description, people_involved, threats, gathering,
    place, zone (id), enterprise (id, police only). ``parties``: name, kind, phone.
    ``files``: uploaded files (evidence). ``at``: when it was reported (default now; the
    simulator files past cases)."""
    if not user_can(actor, Case, ADD):
        raise PermissionDenied(_("You may not do this."))
    check_text({**data, "parties": parties})
    errors = {}
    summary = (data.get("summary") or "").strip()
    if not summary:
        errors["summary"] = [_("Say in a few words what the dispute is about.")]
    if len(summary) > 200:
        errors["summary"] = [_("At most %d characters.") % 200]
    try:
        people = int(data.get("people_involved") or 2)
        if not 1 <= people <= 100000:
            raise ValueError
    except (TypeError, ValueError):
        errors["people_involved"] = [_("A number of people, at least 1.")]
        people = 2
    named = [p for p in parties if (p.get("name") or "").strip()]
    if not named:
        errors["parties"] = [_("Name at least one party.")]
    if errors:
        raise ValidationFailed(errors)
    type_ = _choice(data, "type", DisputeType.values)
    severity = _choice(data, "severity", Severity.values, Severity.GENERAL)
    station, enterprise = _place_of(actor, data)
    zone = _zone_of(data.get("zone"), station, enterprise)
    for f in files:
        check_upload(f)
    now = at or timezone.now()
    threats, gathering = bool(data.get("threats")), bool(data.get("gathering"))
    reporter = None
    if getattr(actor, "role", "") in PERSONAL_ROLES and actor.person_id:
        reporter = actor.person
    party_rows = []
    for p in named:
        kind = p.get("kind") or CaseParty.Kind.APPLICANT
        if kind not in CaseParty.Kind.values:
            raise ValidationFailed({"parties": [_("Choose one of the given values.")]})
        row = CaseParty(
            kind=kind, name=p["name"].strip()[:100], phone=(p.get("phone") or "").strip()
        )
        try:
            row.full_clean(exclude=["case"])
        except Exception as e:  # a phone that is not one
            messages = getattr(e, "message_dict", {"parties": [str(e)]})
            raise ValidationFailed(
                {"parties": [f"{row.name}: {m}" for msgs in messages.values() for m in msgs]}
            ) from None
        party_rows.append(row)
    codes = {}
    with transaction.atomic():
        case = Case(
            station=station,
            enterprise=enterprise,
            grid=enterprise.grid if enterprise else None,
            zone=zone,
            place=(data.get("place") or "").strip()[:200],
            type=type_,
            severity=severity,
            people_involved=people,
            threats=threats,
            gathering=gathering,
            summary=summary,
            description=(data.get("description") or "").strip(),
            reported_at=now,
            reported_by=_user(actor),
            reporter=reporter,
            reporter_name=(
                (actor.get_full_name() or actor.get_username()) if _user(actor) else _name(actor)
            )[:100],
            tier=routing.route(
                type=type_, severity=severity, people_involved=people, threats=threats,
                gathering=gathering, enterprise=enterprise,
            ),
        )  # fmt: skip
        set_deadlines(case, now)
        for attempt in range(5):
            case.number = _next_number(station, now)
            if attempt:
                case.number += f"-{secrets.randbelow(1000):03d}"
            try:
                with transaction.atomic():
                    case.save()
                break
            except IntegrityError:
                continue
        else:  # pragma: no cover
            raise ValidationFailed({"__all__": [_("Could not number the case; try again.")]})
        for row in party_rows:
            row.case = case
            row.save()
            codes[row.pk] = _new_code(row, now)
        for f in files:
            _store(actor, case, f, CaseAttachment.Kind.EVIDENCE)
        _record(case, "report", "", None, actor, note="", at=now)
        audit.record(actor, AuditAction.CREATE, case, after=audit.snapshot(case),
                     remote_addr=remote_addr)  # fmt: skip
        _publish(case, "report")
        from anyuan.disputes.warnings import check_group_incident

        check_group_incident(case)
    return case, codes


# --- the steps -----------------------------------------------------------------------------


def handler_may(actor, case: Case, step: str) -> bool:
    """Whether ``actor`` handles ``case`` now: the police always; enterprise users while
    the case is at tier 1 or 2 (and to escalate it from there); partners at tier 3."""
    if getattr(actor, "is_superuser", False):
        return True
    role = getattr(actor, "role", "")
    if role in POLICE_ROLES:
        return True
    if role in ENTERPRISE_ROLES:
        return case.tier < TOP_TIER
    if role == Role.PARTNER:
        return case.tier == TOP_TIER
    return False


def _locked(actor, case) -> Case:
    if not user_can(actor, Case, CHANGE):
        raise PermissionDenied(_("You may not do this."))
    pk = getattr(case, "pk", case)
    row = Case.objects.restrict(actor, CHANGE).select_for_update().filter(pk=pk).first()
    if row is None:
        raise PermissionDenied(_("This object is outside your scope."))
    return row


def available_steps(actor, case: Case) -> list[str]:
    """The steps ``actor`` may take on ``case`` in its current state (for the buttons)."""
    if not Case.objects.restrict(actor, CHANGE).filter(pk=case.pk).exists():
        return []
    found = []
    for name in STEPS:
        if not handler_may(actor, case, name):
            continue
        if can_proceed(getattr(case, name), check_conditions=False):
            if name == "escalate" and case.tier >= TOP_TIER:
                continue
            found.append(name)
    return found


def step(actor, case, name: str, *, note: str = "", to: str = "", agreement=None,
         remote_addr=None, breach: bool = False, at=None) -> Case:  # fmt: skip
    """Take step ``name`` (see ``STEPS``) on ``case`` (``at``: the platform's clock for
    steps it takes itself, e.g. an escalation on a breach; default now)."""
    if name not in STEPS:
        raise ValidationFailed({"step": [_("Unknown step.")]})
    text = _clean_note(note, name in NOTE_REQUIRED)
    if name == "refer" and to not in Referral.values:
        raise ValidationFailed({"to": [_("Say where the case is referred to.")]})
    if agreement is not None:
        check_upload(agreement)
    with transaction.atomic():
        row = _locked(actor, case)
        if not handler_may(actor, row, name):
            raise PermissionDenied(
                _("At tier %(tier)s this case is handled by others.") % {"tier": row.tier}
            )
        method = getattr(row, name)
        if not can_proceed(method, check_conditions=False):
            raise TransitionRefused(
                _("This case is %(state)s; it cannot be %(step)s now.")
                % {"state": row.get_state_display(), "step": str(STEP_LABELS[name]).lower()}
            )
        if name == "escalate" and row.tier >= TOP_TIER:
            raise TransitionRefused(_("The case is at the top tier already; refer it instead."))
        if name == "agree":
            if agreement is not None:
                _store(actor, row, agreement, CaseAttachment.Kind.AGREEMENT)
            if not row.attachments.filter(kind=CaseAttachment.Kind.AGREEMENT).exists():
                raise ValidationFailed({"agreement": [_("Attach the signed mediation agreement.")]})
        now = at or timezone.now()
        source, tier_from = row.state, row.tier
        before = {"state": source, "tier": tier_from}
        if name == "refer":
            method(now, to)
        else:
            method(now)
        if name == "escalate":
            set_deadlines(row, now)
            if breach:
                row.breaches += 1
        row.save()
        _record(row, name, source, tier_from, actor, note=text, breach=breach, at=now)
        audit.record(
            actor,
            AuditAction.UPDATE,
            row,
            before=before,
            after={"transition": name, "state": row.state, "tier": row.tier, "note": text},
            remote_addr=remote_addr,
        )
        _publish(row, name)
    return row


def record_breach(case: Case, which: str, *, actor=SYSTEM, at=None) -> Case:
    """A time limit passed at the top tier (nothing to escalate to): count it, note it in
    the case's history and tell the police; the limit is not counted twice."""
    with transaction.atomic():
        row = Case.objects.select_for_update().get(pk=case.pk)
        field = "due_contact" if which == "contact" else "due_close"
        due = getattr(row, field)
        if due is None:
            return row
        row.breaches += 1
        setattr(row, field, None)
        row.save(update_fields=["breaches", field, "updated"])
        note = (
            _("No first contact by %(due)s.") if which == "contact" else _("No result by %(due)s.")
        ) % {"due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M")}
        _record(row, "breach", row.state, row.tier, actor, note=note, breach=True, at=at)
        audit.record(actor, AuditAction.UPDATE, row, after={"transition": "breach", "limit": which})
        _publish(row, "breach")
    return row


# --- partners ------------------------------------------------------------------------------


def partner_candidates(case: Case):
    from anyuan.accounts.models import User

    # the police's own partner accounts (core.roles.MANAGED_BY; User.clean): a partner row
    # tied to an enterprise is not theirs — made before enterprises lost that power
    return User.objects.filter(
        role=Role.PARTNER, station_id=case.station_id, enterprise__isnull=True, is_active=True
    )


def invite_partner(actor, case, partner, *, remote_addr=None) -> Case:
    """The police invite a partner (judicial office, labour bureau, mediator) to a tier-3
    case; the partner then sees and works on it."""
    with transaction.atomic():
        row = _locked(actor, case)
        if not (is_police(actor)):
            raise PermissionDenied(_("You may not do this."))
        if row.tier < TOP_TIER:
            raise TransitionRefused(_("Partners join at tier 3; escalate the case first."))
        from anyuan.accounts.models import User

        pk = getattr(partner, "pk", partner)
        try:
            target = partner_candidates(row).get(pk=int(pk))
        except (ValueError, TypeError, OverflowError, User.DoesNotExist):
            raise ValidationFailed({"partner": [_("Unknown reference.")]}) from None
        row.partners.add(target)
        _record(
            row,
            "invite",
            row.state,
            row.tier,
            actor,
            note=target.get_full_name() or target.get_username(),
        )
        audit.record(
            actor, AuditAction.UPDATE, row, after={"transition": "invite", "partner": target.pk},
            remote_addr=remote_addr,
        )  # fmt: skip
        _publish(row, "invite")
    return row


# --- files ---------------------------------------------------------------------------------

# extension → (content type, the file's first bytes)
ALLOWED_FILES = {
    "pdf": ("application/pdf", (b"%PDF",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
}


def file_max() -> int:
    return int(settings.ANYUAN_DISPUTE_FILE_MAX_BYTES)


def check_upload(upload) -> tuple[str, str]:
    """(file name, content type) of an acceptable upload; else a clear refusal."""
    name = (getattr(upload, "name", "") or "file").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    check_text({"file": name})
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ALLOWED_FILES:
        raise ValidationFailed(
            {"file": [_("Refused file type “%(ext)s”; allowed: %(allowed)s.")
                      % {"ext": ext or "—", "allowed": ", ".join(sorted(ALLOWED_FILES))}]}
        )  # fmt: skip
    if upload.size > file_max():
        raise ValidationFailed(
            {"file": [_("The file is too large (%(size)s MB; at most %(max)s MB).")
                      % {"size": round(upload.size / 2**20, 1), "max": round(file_max() / 2**20, 1)}]}
        )  # fmt: skip
    if upload.size == 0:
        raise ValidationFailed({"file": [_("The file is empty.")]})
    content_type, magics = ALLOWED_FILES[ext]
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not any(head.startswith(m) for m in magics):
        raise ValidationFailed(
            {"file": [_("The file's content is not a %(ext)s file.") % {"ext": ext.upper()}]}
        )
    return name[:200], content_type


def _store(actor, case, upload, kind) -> CaseAttachment:
    name, content_type = check_upload(upload)
    row = CaseAttachment(
        case=case, kind=kind, name=name, content_type=content_type, size=upload.size,
        uploaded_by=_user(actor),
    )  # fmt: skip
    row.file.save(
        f"{case.pk}-{secrets.token_hex(8)}.{name.rsplit('.', 1)[-1].lower()}", upload, save=False
    )
    row.save()
    audit.record(
        actor, AuditAction.CREATE, row,
        after={"case": case.pk, "kind": kind, "name": name, "size": row.size, "file": row.file.name},
    )  # fmt: skip
    return row


def add_attachment(actor, case, upload, kind=CaseAttachment.Kind.EVIDENCE, *, remote_addr=None):
    if not user_can(actor, CaseAttachment, ADD):
        raise PermissionDenied(_("You may not do this."))
    if kind not in CaseAttachment.Kind.values:
        raise ValidationFailed({"kind": [_("Choose one of the given values.")]})
    pk = getattr(case, "pk", case)
    with transaction.atomic():
        row = Case.objects.restrict(actor, VIEW).filter(pk=pk).first()
        if row is None:
            raise PermissionDenied(_("This object is outside your scope."))
        return _store(actor, row, upload, kind)


# --- the parties' access codes -------------------------------------------------------------

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
CODE_LENGTH = 12


def normalize_code(code: str) -> str:
    return "".join(c for c in (code or "").upper() if c.isalnum())[:40]


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def code_digest(code: str) -> str:
    return digest("dispute_code", normalize_code(code))


def _new_code(party: CaseParty, now) -> str:
    code = "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))
    party.code_digest = code_digest(code)
    party.code_issued_at = now
    party.save(update_fields=["code_digest", "code_issued_at"])
    return format_code(code)


def reissue_code(actor, party, *, remote_addr=None) -> str:
    """A new access code for a party (the old one stops working); shown once."""
    pk = getattr(party, "pk", party)
    with transaction.atomic():
        row = CaseParty.objects.select_related("case").filter(pk=pk).first()
        if row is None:
            raise PermissionDenied(_("This object is outside your scope."))
        case = _locked(actor, row.case)
        if not handler_may(actor, case, "accept"):
            raise PermissionDenied(_("You may not do this."))
        code = _new_code(row, timezone.now())
        audit.record(
            actor, AuditAction.TOKEN, row, after={"party": row.pk, "case": case.number},
            remote_addr=remote_addr,
        )  # fmt: skip
    return code


def party_for_code(code: str) -> CaseParty | None:
    code = normalize_code(code)
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return CaseParty.objects.select_related("case").filter(code_digest=code_digest(code)).first()


RATABLE = (State.RETURN_VISIT, State.CLOSED)


def rate(party: CaseParty, score, comment: str = "") -> CaseParty:
    """A party's satisfaction (1–5) with the mediation, at the return visit or closing;
    once per party."""
    comment = (comment or "").strip()[:2000]
    check_text({"comment": comment})
    try:
        score = int(score)
        if not 1 <= score <= 5:
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationFailed({"satisfaction": [_("Give 1 to 5 stars.")]}) from None
    with transaction.atomic():
        row = CaseParty.objects.select_for_update().select_related("case").get(pk=party.pk)
        if row.case.state not in RATABLE:
            raise TransitionRefused(_("You can rate the mediation at the return visit or closing."))
        if row.rated_at is not None:
            raise TransitionRefused(_("You have rated this case already."))
        row.satisfaction, row.comment, row.rated_at = score, comment, timezone.now()
        row.save(update_fields=["satisfaction", "comment", "rated_at"])
        case = row.case
        case.satisfaction = case.parties.filter(satisfaction__isnull=False).aggregate(
            a=Avg("satisfaction")
        )["a"]
        Case.objects.filter(pk=case.pk).update(satisfaction=case.satisfaction)
        who = SimpleNamespace(name=f"party:{row.pk}")
        audit.record(
            who, AuditAction.UPDATE, case, after={"transition": "rate", "satisfaction": score}
        )
    return row


def seen_by_party(party: CaseParty) -> None:
    CaseParty.objects.filter(pk=party.pk).update(last_visit=timezone.now())


# --- warning information -------------------------------------------------------------------

WARNING_SOURCE_OF_ROLE = {
    Role.INFORMANT: WarningInfo.Source.INFORMANT,
    Role.EMPLOYEE: WarningInfo.Source.INFORMANT,
    Role.ENTERPRISE_ADMIN: WarningInfo.Source.ENTERPRISE,
    Role.ENTERPRISE_SECURITY: WarningInfo.Source.ENTERPRISE,
}


def report_warning(actor, data: dict, *, remote_addr=None) -> WarningInfo:
    """Record warning information (预警性信息): the police for any enterprise of their
    station (and link cases); informants and enterprises for their own enterprise."""
    if not user_can(actor, WarningInfo, ADD):
        raise PermissionDenied(_("You may not do this."))
    check_text({k: v for k, v in data.items() if isinstance(v, str)})
    fields = {k: data[k] for k in ("category", "level", "title", "content") if k in data}
    police = is_police(actor)
    cases = []
    if police:
        station, enterprise = _place_of(actor, {"enterprise": data.get("enterprise")})
        fields["source"] = data.get("source") or WarningInfo.Source.OFFICER
        for name in ("verified", "verified_note", "reported_at"):
            if data.get(name) not in (None, ""):
                fields[name] = data[name]
        wanted = [getattr(c, "pk", c) for c in data.get("cases") or []]
        cases = list(Case.objects.restrict(actor, VIEW).filter(pk__in=wanted))
        if len(cases) != len(set(wanted)):
            raise ValidationFailed({"cases": [_("Unknown reference.")]})
    else:
        station, enterprise = _place_of(actor, {})
        fields["source"] = WARNING_SOURCE_OF_ROLE.get(actor.role, WarningInfo.Source.OTHER)
    row = WarningInfo(
        station=station,
        enterprise=enterprise,
        reported_by=_user(actor),
        reporter=actor.person if actor.role in PERSONAL_ROLES and actor.person_id else None,
        **fields,
    )
    from anyuan.core.actions import full_clean

    with transaction.atomic():
        full_clean(row)
        row.save()
        row.cases.set(cases)
        if not WarningInfo.objects.restrict(actor, ADD).filter(pk=row.pk).exists():
            raise PermissionDenied(_("This object is outside your scope."))
        audit.record(
            actor, AuditAction.CREATE, row, after=audit.snapshot(row), remote_addr=remote_addr
        )
    return row
