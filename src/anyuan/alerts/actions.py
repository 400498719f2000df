"""Every change to an alert: raise (or repeat), acknowledge, dispatch, resolve, false alarm,
notes, and escalation of alerts nobody has acknowledged.

The lifecycle is a small explicit transition table (``TRANSITIONS``) rather than a state
machine library: each step also checks permission and scope, requires a note for closing,
writes one audit record and publishes a live event, all in one transaction — the table is
the only part a library would have done for us (see docs/alerts.md).
"""

import datetime as dt

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from anyuan.accounts.models import User
from anyuan.alerts.models import Alert, AlertNote
from anyuan.core import audit
from anyuan.core.actions import ValidationFailed, check_text
from anyuan.core.events import publish_on_commit
from anyuan.core.models import AuditAction
from anyuan.core.roles import ADD, CHANGE, ENTERPRISE_ROLES, POLICE_ROLES, user_can
from anyuan.core.system import SYSTEM
from anyuan.live import actions as live

State = Alert.State
OPEN = frozenset(Alert.OPEN_STATES)
TOPIC = "alerts.alert.changed"

# transition → (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset, str]] = {
    "acknowledge": (frozenset({State.NEW}), State.ACKNOWLEDGED),
    "dispatch": (frozenset({State.NEW, State.ACKNOWLEDGED}), State.DISPATCHED),
    "resolve": (OPEN, State.RESOLVED),
    "false_alarm": (OPEN, State.FALSE_ALARM),
    # the platform saw the condition end (``clear_alert``)
    "clear": (OPEN, State.RESOLVED),
}
NOTE_REQUIRED = frozenset({"resolve", "false_alarm"})
NOTE_MAX = 4000

# Seconds an alert of each severity may stay unacknowledged before it is escalated.
DEFAULT_ESCALATION_LIMITS = {"critical": 120, "high": 300, "medium": 900, "low": 3600}


class TransitionRefused(ValidationFailed):
    """The alert's state does not allow this step (the API answers 409)."""

    def __init__(self, message: str):
        super().__init__({"state": [message]})
        self.message = message


def escalation_limits() -> dict[str, dt.timedelta]:
    limits = {**DEFAULT_ESCALATION_LIMITS, **settings.ANYUAN_ALERT_ESCALATION}
    return {severity: dt.timedelta(seconds=s) for severity, s in limits.items()}


def escalation_max_level() -> int:
    return int(settings.ANYUAN_ALERT_ESCALATION_MAX_LEVEL)


def _payload(alert: Alert, transition: str) -> dict:
    """What a browser needs for a toast and to update a list, without a query: the zone
    by id only; the type label in the platform's language (like the titles)."""
    with translation.override(settings.LANGUAGE_CODE):
        type_label = str(alert.get_type_display())
    return {
        "id": alert.pk,
        "transition": transition,
        "state": alert.state,
        "severity": alert.severity,
        "type": alert.type,
        "type_label": type_label,
        "title": alert.title,
        "station": alert.station_id,
        "enterprise": alert.enterprise_id,
        "zone": alert.zone_id,
        "first_seen": alert.first_seen.isoformat() if alert.first_seen else None,
        "last_seen": alert.last_seen.isoformat() if alert.last_seen else None,
        "repeat_count": alert.repeat_count,
        "passage": (alert.detail or {}).get("passage"),
    }


def _publish(alert: Alert, transition: str) -> None:
    """The in-process event after commit, and the browsers' message in this transaction."""
    payload = _payload(alert, transition)
    publish_on_commit(TOPIC, payload)
    live.publish("alert", payload, station=alert.station_id, enterprise=alert.enterprise_id)


def _snapshot(alert: Alert, names) -> dict:
    full = audit.snapshot(alert)
    return {n: full.get(n) for n in names}


# --- raising --------------------------------------------------------------------------


# ``raise_alert(enterprise=...)`` default: the owner of the alert's zone sees it
ZONE_OWNER = object()


def raise_alert(
    actor=SYSTEM,
    *,
    type: str,
    source_key: str,
    station,
    severity: str = Alert.Severity.MEDIUM,
    title: str = "",
    enterprise=ZONE_OWNER,
    zone=None,
    device=None,
    person=None,
    vehicle=None,
    credential: str = "",
    detail: dict | None = None,
    at: dt.datetime | None = None,
    count: int = 1,
    last_at: dt.datetime | None = None,
) -> tuple[Alert, bool]:
    """Open an alert, or count a repeat on the open one of the same (source, type).

    Returns ``(alert, created)``. Race-safe: the open alert is locked, and two callers
    creating at once meet the partial unique constraint — the loser counts a repeat.
    Repeats are not audited (the counter and ``last_seen`` record them); opening is.
    ``count`` occurrences at once (``at`` the first, ``last_at`` the last): a caller that
    saw the same condition several times in one batch raises it once.
    """
    if count < 1:
        raise ValidationFailed({"count": [_("At least one occurrence.")]})
    if not user_can(actor, Alert, ADD):
        raise PermissionDenied(_("You may not do this."))
    if type not in Alert.Type.values:
        raise ValidationFailed({"type": [_("Unknown alert type.")]})
    if severity not in Alert.Severity.values:
        raise ValidationFailed({"severity": [_("Unknown severity.")]})
    at = at or timezone.now()
    if enterprise is ZONE_OWNER:  # the default; an explicit None means the police only
        if zone is None:
            enterprise = None
        elif isinstance(zone, int):
            from anyuan.registry.models import Zone

            enterprise = (
                Zone.objects.filter(pk=zone).values_list("enterprise_id", flat=True).first()
            )
        else:
            enterprise = zone.enterprise_id
    fields = {
        "station_id": getattr(station, "pk", station),
        "enterprise_id": getattr(enterprise, "pk", enterprise),
        "zone_id": getattr(zone, "pk", zone),
        "device_id": getattr(device, "pk", device),
        "person_id": getattr(person, "pk", person),
        "vehicle_id": getattr(vehicle, "pk", vehicle),
        "credential": credential or "",
        "title": (title or "")[:200],
        "detail": detail or {},
        "severity": severity,
    }
    check_text({"source_key": source_key, **fields})
    for _attempt in range(3):
        with transaction.atomic():
            alert = (
                Alert.objects.select_for_update()
                .filter(source_key=source_key, type=type, state__in=OPEN)
                .first()
            )
            if alert is not None:
                return _repeat(alert, last_at or at, severity, count), False
            try:
                with transaction.atomic():
                    alert = Alert(
                        type=type,
                        source_key=source_key,
                        first_seen=at,
                        last_seen=last_at or at,
                        repeat_count=count,
                        **fields,
                    )
                    if not alert.title:
                        alert.title = f"{alert.get_type_display()} · {source_key}"[:200]
                    alert.save()
            except IntegrityError:
                continue  # opened by someone else meanwhile: count a repeat on it
            audit.record(
                actor,
                AuditAction.CREATE,
                alert,
                after={"transition": "raise", **audit.snapshot(alert)},
            )
            _publish(alert, "raise")
            return alert, True
    raise IntegrityError("could not open or find the open alert")  # pragma: no cover


def _repeat(alert: Alert, at: dt.datetime, severity: str, count: int = 1) -> Alert:
    updates = {"repeat_count": F("repeat_count") + count, "last_seen": at}
    order = list(Alert.SEVERITY_ORDER)
    if order.index(severity) > order.index(alert.severity):
        updates["severity"] = severity  # a worse repeat raises the severity, never lowers it
    Alert.objects.filter(pk=alert.pk).update(**updates)
    alert.refresh_from_db()
    _publish(alert, "repeat")
    return alert


# --- the lifecycle --------------------------------------------------------------------


def _locked(actor, alert) -> Alert:
    """The alert, re-read and locked, if ``actor`` may change it; else PermissionDenied."""
    if not user_can(actor, Alert, CHANGE):
        raise PermissionDenied(_("You may not do this."))
    pk = getattr(alert, "pk", alert)
    row = Alert.objects.restrict(actor, CHANGE).select_for_update().filter(pk=pk).first()
    if row is None:
        raise PermissionDenied(_("This object is outside your scope."))
    return row


def _clean_note(note: str, required: bool) -> str:
    note = (note or "").strip()
    check_text({"note": note})
    if required and not note:
        raise ValidationFailed({"note": [_("Say what was found or done (a note is required).")]})
    if len(note) > NOTE_MAX:
        raise ValidationFailed({"note": [_("At most %d characters.") % NOTE_MAX]})
    return note


def _note(actor, alert, text) -> AlertNote:
    author = actor if isinstance(actor, User) else None
    return AlertNote.objects.create(
        alert=alert,
        author=author,
        author_name=actor.get_username() if actor is not None else "",
        text=text,
    )


def _transition(actor, alert, name: str, *, note: str = "", remote_addr=None, **changes) -> Alert:
    sources, target = TRANSITIONS[name]
    text = _clean_note(note, name in NOTE_REQUIRED)
    with transaction.atomic():
        row = _locked(actor, alert)
        if row.state not in sources:
            raise TransitionRefused(
                _("This alert is %(state)s; it cannot be %(step)s now.")
                % {"state": row.get_state_display(), "step": TRANSITION_LABELS[name]}
            )
        now = timezone.now()
        user = actor if isinstance(actor, User) else None
        fields = {"state": target, **changes}
        if name in ("acknowledge", "dispatch") and row.acknowledged_at is None:
            fields.update(acknowledged_by=user, acknowledged_at=now)
        if name == "dispatch":
            fields["dispatched_at"] = now
        if name in ("resolve", "false_alarm", "clear"):
            fields.update(resolved_by=user, resolved_at=now)
        names = [Alert._meta.get_field(k).name for k in fields]
        before = _snapshot(row, names)
        for key, value in fields.items():
            setattr(row, key, value)
        row.save(update_fields=names)
        note_obj = _note(actor, row, text) if text else None
        after = {"transition": name, **_snapshot(row, names)}
        if note_obj is not None:
            after["note"] = note_obj.pk
        audit.record(
            actor, AuditAction.UPDATE, row, before=before, after=after, remote_addr=remote_addr
        )
        _publish(row, name)
    return row


TRANSITION_LABELS = {
    "acknowledge": gettext_lazy("acknowledged"),
    "dispatch": gettext_lazy("dispatched"),
    "resolve": gettext_lazy("resolved"),
    "false_alarm": gettext_lazy("marked a false alarm"),
    "clear": gettext_lazy("cleared"),
}


def dispatch_candidates(actor, alert: Alert):
    """Who ``actor`` may send to ``alert``: the police users of its station (for police
    actors) and the enterprise's own administrators and guards."""
    q = Q(pk__in=[])
    if getattr(actor, "is_superuser", False) or getattr(actor, "role", "") in POLICE_ROLES:
        q |= Q(role__in=POLICE_ROLES, station_id=alert.station_id)
    if alert.enterprise_id:
        q |= Q(role__in=ENTERPRISE_ROLES, enterprise_id=alert.enterprise_id)
    return User.objects.filter(q, is_active=True).order_by("username")


def acknowledge(actor, alert, *, note: str = "", remote_addr=None) -> Alert:
    return _transition(actor, alert, "acknowledge", note=note, remote_addr=remote_addr)


def dispatch(actor, alert, *, to, note: str = "", remote_addr=None) -> Alert:
    if to in (None, ""):
        raise ValidationFailed({"to": [_("Choose the guard or officer to send.")]})
    with transaction.atomic():
        row = _locked(actor, alert)
        to_pk = getattr(to, "pk", to)
        try:
            target = dispatch_candidates(actor, row).get(pk=int(to_pk))
        except (User.DoesNotExist, ValueError, TypeError, OverflowError):
            raise ValidationFailed({"to": [_("Unknown reference.")]}) from None
        return _transition(
            actor, row, "dispatch", note=note, remote_addr=remote_addr, dispatched_to=target
        )


def resolve(actor, alert, *, note: str, remote_addr=None) -> Alert:
    return _transition(actor, alert, "resolve", note=note, remote_addr=remote_addr)


def mark_false_alarm(actor, alert, *, note: str, remote_addr=None) -> Alert:
    return _transition(actor, alert, "false_alarm", note=note, remote_addr=remote_addr)


def add_note(actor, alert, text: str, *, remote_addr=None) -> AlertNote:
    text = _clean_note(text, True)
    with transaction.atomic():
        row = _locked(actor, alert)
        note = _note(actor, row, text)
        audit.record(
            actor,
            AuditAction.UPDATE,
            row,
            after={"transition": "note", "note": note.pk},
            remote_addr=remote_addr,
        )
        _publish(row, "note")
    return note


# --- escalation -----------------------------------------------------------------------


def _overdue_q(now: dt.datetime) -> Q:
    q = Q(pk__in=[])
    for severity, limit in escalation_limits().items():
        cutoff = now - limit
        q |= Q(severity=severity) & (
            Q(escalated_at__isnull=True, first_seen__lte=cutoff) | Q(escalated_at__lte=cutoff)
        )
    return q


def escalate_overdue(now: dt.datetime | None = None, *, actor=SYSTEM) -> list[Alert]:
    """Escalate every new (unacknowledged) alert left past its severity's limit: one level
    up and one severity step up (to critical at most), each in its own transaction with one
    audit record and a live event. The clock restarts at each escalation, up to the
    maximum level."""
    now = now or timezone.now()
    order = list(Alert.SEVERITY_ORDER)
    top = escalation_max_level()
    candidates = Alert.objects.filter(
        _overdue_q(now), state=State.NEW, escalation_level__lt=top
    ).values_list("pk", flat=True)
    done = []
    for pk in list(candidates):
        with transaction.atomic():
            row = (
                Alert.objects.select_for_update()
                .filter(_overdue_q(now), pk=pk, state=State.NEW, escalation_level__lt=top)
                .first()
            )
            if row is None:  # acknowledged or escalated meanwhile
                continue
            names = ["escalation_level", "escalated_at", "severity"]
            before = _snapshot(row, names)
            row.escalation_level += 1
            row.escalated_at = now
            row.severity = order[min(order.index(row.severity) + 1, len(order) - 1)]
            row.save(update_fields=names)
            audit.record(
                actor,
                AuditAction.UPDATE,
                row,
                before=before,
                after={"transition": "escalate", **_snapshot(row, names)},
            )
            _publish(row, "escalate")
            done.append(row)
    return done


# --- clearing -------------------------------------------------------------------------


def clear_alert(
    *, type: str, source_key: str, note: str, at: dt.datetime, actor=SYSTEM
) -> Alert | None:
    """Close the open alert of (source, type) because its condition ended at ``at`` (the
    vehicle left, the device was heard again): resolved by the platform with ``note``,
    ``cleared_at`` set, one audit record and a live event. ``None`` if none is open (a
    person closed it already)."""
    pk = (
        Alert.objects.filter(source_key=source_key, type=type, state__in=OPEN)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        return None
    try:
        return _transition(actor, pk, "clear", note=note, cleared_at=at)
    except TransitionRefused:  # closed by a person meanwhile
        return None
