"""Running a trace: check, run, record — one transaction, one audit record with the reason.

Who may trace (``roles.PERMISSIONS["tracing.tracerun"]``): the police (officers and
administrators) over their station — tracing an outbreak or a theft is police work; and
enterprise administrators and security staff over their *own* zones only — "who was in
the warehouse with him between 2 and 4 a.m." is the enterprise's own question, and their
presences are already theirs to see (``events.presence`` view). Informants and employees
may not trace. Exports (XLSX) need the ``export`` permission, which only the police have.
"""

from __future__ import annotations

import datetime as dt
import re
import time

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.core import audit
from anyuan.core.actions import DB_INT_MAX, ValidationFailed, check_text, record_export
from anyuan.core.models import AuditAction
from anyuan.core.roles import ADD, ENTERPRISE_ROLES, EXPORT, VIEW, user_can
from anyuan.events.models import Presence
from anyuan.registry.models import Person, Vehicle
from anyuan.tracing import query
from anyuan.tracing.models import Rule, TraceRun

DEFAULT_WINDOW = dt.timedelta(days=14)
MAX_WINDOW = dt.timedelta(days=31)
MAX_INDEX = 50
MAX_MINUTES = 24 * 60


def may_trace(user) -> bool:
    return user_can(user, TraceRun, ADD) and user_can(user, Presence, VIEW)


def require_trace(user) -> None:
    if not may_trace(user):
        raise PermissionDenied(_("You may not do this."))


def _as_ids(values) -> list[int] | None:
    ids = []
    for v in values or []:
        if isinstance(v, str) and v.strip().isascii() and v.strip().isdigit():
            v = int(v.strip())
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= DB_INT_MAX:
            return None
        ids.append(v)
    return list(dict.fromkeys(ids))


def question(user, data: dict) -> query.Question:
    """Check a trace request (``people``: ids, ``plate``, ``start``/``end``, ``minutes``,
    ``rule``, ``hops``); every problem as a field error, nothing looked up out of reach."""
    errors: dict[str, list[str]] = {}
    check_text({k: v for k, v in data.items() if isinstance(v, str)})
    people = _as_ids(data.get("people"))
    if people is None:
        errors["people"] = [_("Unknown reference.")]
        people = []
    elif len(people) > MAX_INDEX:
        errors["people"] = [_("At most %(n)d index people.") % {"n": MAX_INDEX}]
    elif people:
        visible = set(
            Person.objects.restrict(user, VIEW).filter(pk__in=people).values_list("pk", flat=True)
        )
        if visible != set(people):
            errors["people"] = [_("Unknown reference.")]
    vehicle = None
    plate = data.get("plate") or ""
    # as plates are stored: upper case, no separators (e-bikes' local plates included)
    plate = re.sub(r"[\s·•\-]", "", plate).upper() if isinstance(plate, str) else ""
    if plate:
        found = list(
            Vehicle.objects.restrict(user, VIEW)
            .filter(plate=plate)
            .values_list("pk", flat=True)[:2]
        )
        if len(found) != 1:
            errors["plate"] = [_("No vehicle with this plate.")]
        else:
            vehicle = found[0]
    if not people and not plate and "people" not in errors:
        errors["people"] = [_("Give at least one index person or a plate.")]

    start, end = data.get("start"), data.get("end")
    for name, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, dt.datetime) or value.tzinfo is None):
            errors[name] = [_("Give a date and time with its time zone.")]
    if "start" not in errors and "end" not in errors:
        try:
            if end is None:
                end = start + DEFAULT_WINDOW if start is not None else timezone.now()
            if start is None:
                start = end - DEFAULT_WINDOW
        except OverflowError:
            errors["start"] = [_("This date and time is out of range.")]
        else:
            if end <= start:
                errors["end"] = [_("The end of the time window must be after its start.")]
            elif end - start > MAX_WINDOW:
                errors["end"] = [
                    _("The time window may be at most %(days)d days.") % {"days": MAX_WINDOW.days}
                ]
    minutes = data.get("minutes", 15)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES:
        errors["minutes"] = [
            _("Give a whole number of minutes from 1 to %(max)d.") % {"max": MAX_MINUTES}
        ]
    rule = data.get("rule") or Rule.SINGLE
    if rule not in Rule.values:
        errors["rule"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(Rule.values)}]
    hops = data.get("hops", 2)
    if isinstance(hops, bool) or not isinstance(hops, int) or not 1 <= hops <= 3:
        errors["hops"] = [_("Give 1, 2 or 3 hops.")]
    if errors:
        raise ValidationFailed(errors)
    return query.Question(
        people=people, vehicle=vehicle, start=start, end=end, minutes=minutes,
        cumulative=rule == Rule.CUMULATIVE, hops=hops,
    )  # fmt: skip


def _reason(reason) -> str:
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    check_text({"reason": reason})
    if len(reason) < 4:
        raise ValidationFailed(
            {"reason": [_("Say why you trace these people (at least 4 characters).")]}
        )
    if len(reason) > 2000:
        raise ValidationFailed({"reason": [_("At most 2,000 characters.")]})
    return reason


def run_trace(user, data: dict, *, remote_addr=None) -> TraceRun:
    """Run a trace and keep it: a :class:`TraceRun` with the result, and one audit record
    (``create`` of the run) naming the index cases, the question and the reason."""
    require_trace(user)
    reason = _reason(data.get("reason"))
    q = question(user, data)
    started = time.perf_counter()
    result, contacts, secondary = query.run(user, q)
    elapsed = int((time.perf_counter() - started) * 1000)
    with transaction.atomic():
        run = TraceRun.objects.create(
            user=user,
            station_id=user.station_id or _station_of(user),
            # an enterprise user's trace belongs to the enterprise (and its station)
            enterprise_id=user.enterprise_id if user.role in ENTERPRISE_ROLES else None,
            reason=reason,
            index_vehicle_id=q.vehicle,
            window_start=q.start,
            window_end=q.end,
            minutes=q.minutes,
            rule=Rule.CUMULATIVE if q.cumulative else Rule.SINGLE,
            hops=q.hops,
            contacts=contacts,
            secondary=secondary,
            duration_ms=elapsed,
            result=result,
        )
        run.index_people.set(q.people)
        audit.record(
            user,
            AuditAction.CREATE,
            run,
            after={
                "index_people": q.people,
                "index_vehicle": q.vehicle,
                "from": q.start.isoformat(),
                "to": q.end.isoformat(),
                "minutes": q.minutes,
                "rule": run.rule,
                "hops": q.hops,
                "contacts": contacts,
                "secondary": secondary,
            },
            reason=reason,
            remote_addr=remote_addr,
        )
    return run


def _station_of(user):
    if user.enterprise_id:
        from anyuan.registry.models import Enterprise

        return (
            Enterprise.objects.filter(pk=user.enterprise_id)
            .values_list("station_id", flat=True)
            .first()
        )
    return None


def record_trace_export(user, run: TraceRun, fmt: str, *, remote_addr=None):
    """An export of a run's people (XLSX): the ``export`` permission, one audit record."""
    if not TraceRun.objects.restrict(user, EXPORT).filter(pk=run.pk).exists():
        raise PermissionDenied(_("You may not do this."))
    return record_export(
        user,
        TraceRun,
        count=len(run.result.get("contacts", [])),
        fmt=fmt,
        personal=False,
        remote_addr=remote_addr,
    )
