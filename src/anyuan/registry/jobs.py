"""The registry's periodic work (see :mod:`anyuan.core.scheduler`)."""

import datetime as dt

from django.utils.translation import gettext_lazy as _

from anyuan.core.scheduler import register


@register("registry.import_jobs", every=dt.timedelta(minutes=5),
          timeout=dt.timedelta(hours=1), label=_("Waiting imports"))  # fmt: skip
def import_jobs() -> dict:
    """Run the background imports a restarted web process left waiting (normally a
    thread of the web process runs each as soon as it is uploaded)."""
    from anyuan.registry.importing import jobs

    return {"ran": jobs.run_waiting(older_than=dt.timedelta(minutes=2))}
