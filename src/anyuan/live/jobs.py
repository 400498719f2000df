"""The live outbox's periodic work (see :mod:`anyuan.core.scheduler`)."""

import datetime as dt

from django.utils.translation import gettext_lazy as _

from anyuan.core.scheduler import register


@register("live.prune", every=dt.timedelta(minutes=1), label=_("Prune live messages"))
def prune() -> dict:
    """Delete live messages older than ``ANYUAN_LIVE_KEEP_S``."""
    from anyuan.live import actions

    return {"deleted": actions.prune()}
