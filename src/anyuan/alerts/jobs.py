"""The alerts' periodic work (see :mod:`anyuan.core.scheduler`)."""

import datetime as dt

from django.utils.translation import gettext_lazy as _

from anyuan.core.scheduler import register

ESCALATE = "alerts.escalate"


@register(ESCALATE, every=dt.timedelta(seconds=15), timeout=dt.timedelta(minutes=2),
          label=_("Alert escalation"))  # fmt: skip
def escalate() -> dict:
    """Escalate the alerts left unacknowledged past their severity's limit."""
    from anyuan.alerts.actions import escalate_overdue

    return {"escalated": len(escalate_overdue())}
