"""Time limits: reminders before a limit ends, escalation after it passed.

``run(now)`` (the ``anyuan disputes_deadlines`` command, run every few minutes):

- a case still waiting for its first contact (reported, escalated) whose ``due_contact``
  is within ``ANYUAN_DISPUTE_REMIND_HOURS``, or still waiting for a result (also accepted, mediating)
  whose ``due_close`` is, gets one reminder: a live message to the station's police and
  the case's enterprise, and an audit record;
- a case past either limit is escalated to the next tier by the platform (a step
  "escalate" marked as a breach, with the new tier's limits), or — at tier 3 — has the
  breach recorded in its history and told to the police.

Limits are in working days of the business calendar (:mod:`anyuan.disputes.workdays`).
"""

import contextlib
import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.core import audit
from anyuan.core.models import AuditAction
from anyuan.core.system import SYSTEM
from anyuan.disputes import actions, routing
from anyuan.disputes.models import AWAITING_CONTACT, AWAITING_RESULT, TOP_TIER, Case
from anyuan.live import actions as live


def _remind(case: Case, which: str, now) -> None:
    field = "reminded_contact" if which == "contact" else "reminded_close"
    with transaction.atomic():
        updated = Case.objects.filter(pk=case.pk, **{f"{field}__isnull": True}).update(
            **{field: now}
        )
        if not updated:
            return
        due = case.due_contact if which == "contact" else case.due_close
        audit.record(
            SYSTEM, AuditAction.UPDATE, case,
            after={"transition": "remind", "limit": which, "due": due.isoformat()},
        )  # fmt: skip
        live.publish(
            actions.TOPIC,
            {**actions.payload(case, "remind"), "limit": which, "due": due.isoformat()},
            station=case.station_id,
            enterprise=case.enterprise_id,
        )


def _breach(case: Case, which: str, now) -> None:
    due = case.due_contact if which == "contact" else case.due_close
    when = timezone.localtime(due).strftime("%Y-%m-%d %H:%M")
    if case.tier < TOP_TIER:
        note = (
            _("Time limit breached: no first contact by %(due)s.")
            if which == "contact"
            else _("Time limit breached: no result by %(due)s.")
        ) % {"due": when}
        with contextlib.suppress(actions.TransitionRefused):  # moved on meanwhile
            actions.step(SYSTEM, case, "escalate", note=note, breach=True, at=now)
    else:
        actions.record_breach(case, which, at=now)


def run(now: dt.datetime | None = None) -> dict:
    """Send the reminders due and escalate the breaches; counts of each."""
    now = now or timezone.now()
    ahead = now + dt.timedelta(hours=routing.remind_hours())
    counts = {"reminders": 0, "escalated": 0, "breaches": 0}
    contact_late = Case.objects.filter(state__in=AWAITING_CONTACT, due_contact__lte=now)
    for case in contact_late.order_by("pk"):
        counts["escalated" if case.tier < TOP_TIER else "breaches"] += 1
        _breach(case, "contact", now)
    result_late = Case.objects.filter(state__in=AWAITING_RESULT, due_close__lte=now)
    for case in result_late.order_by("pk"):
        counts["escalated" if case.tier < TOP_TIER else "breaches"] += 1
        _breach(case, "close", now)
    for case in Case.objects.filter(
        state__in=AWAITING_CONTACT, due_contact__gt=now, due_contact__lte=ahead,
        reminded_contact__isnull=True,
    ):  # fmt: skip
        _remind(case, "contact", now)
        counts["reminders"] += 1
    for case in Case.objects.filter(
        state__in=AWAITING_RESULT, due_close__gt=now, due_close__lte=ahead,
        reminded_close__isnull=True,
    ):  # fmt: skip
        _remind(case, "close", now)
        counts["reminders"] += 1
    return counts
