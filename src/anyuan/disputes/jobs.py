"""The disputes' periodic work (see :mod:`anyuan.core.scheduler`)."""

import datetime as dt

from django.utils.translation import gettext_lazy as _

from anyuan.core.scheduler import register

DEADLINES = "disputes.deadlines"


@register(DEADLINES, every=dt.timedelta(minutes=5), timeout=dt.timedelta(minutes=10),
          label=_("Dispute time limits"))  # fmt: skip
def check_deadlines() -> dict:
    """Reminders before dispute time limits end, escalation after they passed."""
    from anyuan.disputes import deadlines

    return deadlines.run()
