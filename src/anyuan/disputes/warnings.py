"""Group-incident early warning (群体性事件预警).

Several cases of the same type in the same enterprise within a short time (unpaid wages
above all), or one case that reports a group gathering, raise a warning to the police: a
:class:`~anyuan.disputes.models.GroupWarning` that lists the cases, and an alert of type
``group_incident`` (``alerts.actions.raise_alert``, police only: no enterprise), so the
warning reaches the police's live alert queue and toasts, is acknowledged, dispatched and
escalated like any alert, and repeats on the open alert instead of opening new ones.

How many cases in how many days: the alert rule ``group_incident`` (thresholds ``cases``
and ``days``, default 3 in 7), set per enterprise, park or station on the alert rule pages
like every rule; a disabled rule raises nothing.
"""

import datetime as dt

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from anyuan.alerts.actions import raise_alert
from anyuan.alerts.models import Alert, Rule
from anyuan.alerts.rules import RuleBook
from anyuan.core.system import SYSTEM
from anyuan.disputes.models import Case, GroupWarning, State

TYPE = Alert.Type.GROUP_INCIDENT


def rule_settings(case: Case):
    park = case.enterprise.park_id if case.enterprise_id else None
    book = RuleBook(Rule.objects.filter(station_id=case.station_id, type=TYPE))
    return book.settings(TYPE, case.station_id, [], case.enterprise_id, park)


def check_group_incident(case: Case, *, actor=SYSTEM) -> GroupWarning | None:
    """Raise (or add to) the warning that ``case`` completes; ``None`` if none."""
    rule = rule_settings(case)
    if not rule.enabled:
        return None
    need, days = int(rule.thresholds["cases"]), float(rule.thresholds["days"])
    since = case.reported_at - dt.timedelta(days=days)
    cases = [case]
    reason = None
    if case.enterprise_id:
        cluster = list(
            Case.objects.filter(
                enterprise_id=case.enterprise_id,
                type=case.type,
                reported_at__gte=since,
                reported_at__lte=case.reported_at,
            )
            .exclude(state=State.WITHDRAWN)
            .order_by("reported_at", "pk")
        )
        if len(cluster) >= need:
            reason, cases = GroupWarning.Reason.CLUSTER, cluster
    if reason is None and case.gathering:
        reason = GroupWarning.Reason.GATHERING
    if reason is None:
        return None
    with transaction.atomic():
        warning = (
            GroupWarning.objects.select_for_update()
            .filter(
                station_id=case.station_id,
                enterprise_id=case.enterprise_id,
                type=case.type,
                last_at__gte=since,
            )
            .order_by("-last_at")
            .first()
        )
        if warning is None:
            warning = GroupWarning.objects.create(
                station_id=case.station_id,
                enterprise_id=case.enterprise_id,
                type=case.type,
                reason=reason,
                first_at=cases[0].reported_at,
                last_at=case.reported_at,
            )
        elif reason == GroupWarning.Reason.CLUSTER:
            warning.reason = reason
        warning.cases.add(*cases)
        warning.case_count = warning.cases.count()
        warning.last_at = max(warning.last_at, case.reported_at)
        with translation.override(django_settings.LANGUAGE_CODE):
            title = _("Group incident warning: %(type)s × %(n)d · %(place)s") % {
                "type": case.get_type_display(),
                "n": warning.case_count,
                "place": case.enterprise.name if case.enterprise_id else case.place or "—",
            }
        alert, _created = raise_alert(
            actor,
            type=TYPE,
            source_key=f"disputes:{case.enterprise_id or 'park'}:{case.type}",
            station=case.station_id,
            enterprise=None,  # the police's: an early warning is theirs to act on
            severity=rule.severity,
            title=title,
            detail={
                "warning": warning.pk,
                "reason": warning.reason,
                "cases": [c.number for c in cases][-20:],
                "count": warning.case_count,
            },
            at=case.reported_at,
        )
        warning.alert = alert
        warning.save()
    return warning
