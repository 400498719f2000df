"""core's own periodic work (see :mod:`anyuan.core.scheduler`)."""

import datetime as dt

from django.utils.translation import gettext_lazy as _

from anyuan.core import ratelimit
from anyuan.core.scheduler import register

# rate counters whose window started more than a day ago count for nothing
register(
    "core.prune_rate_counters",
    lambda: ratelimit.prune(),
    every=dt.timedelta(hours=1),
    label=_("Prune rate counters"),
)
