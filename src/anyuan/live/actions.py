"""Publishing to the browsers, and pruning what was published.

``publish`` inserts one :class:`LiveMessage` in the caller's transaction: the message
becomes visible to the pollers exactly when that transaction commits, and never for a
change that is rolled back. No audit record is written for either function: a message is
a derived notification of a change that is itself audited (or of device data, which the
event log records), and pruning removes only such notifications.
"""

import datetime as dt
import re

from django.conf import settings
from django.utils import timezone

from anyuan.core import personal
from anyuan.live.models import LiveMessage

TOPIC_RE = re.compile(r"[a-z][a-z0-9_.-]{0,31}")


def publish(topic: str, payload: dict, *, station, enterprise=None) -> None:
    """Queue ``payload`` for the browsers of ``station`` (the police) and, when given, of
    ``enterprise``; ``station``/``enterprise`` are objects or ids. One INSERT, no audit.

    A message an enterprise receives may not carry a field some model declares derived
    personal data or police-only (``disclosure``, :mod:`anyuan.core.personal`): such a
    payload is refused, so that a new topic cannot tell an enterprise who reported."""
    if not TOPIC_RE.fullmatch(topic):
        raise ValueError(f"bad live topic {topic!r}")
    if enterprise is not None:
        leaked = sorted(set(payload) & personal.undisclosable_names())
        if leaked:
            raise ValueError(f"live message {topic!r} to an enterprise carries {leaked}")
    LiveMessage.objects.create(
        topic=topic,
        payload=payload,
        station_id=getattr(station, "pk", station),
        enterprise_id=getattr(enterprise, "pk", enterprise),
    )


def keep() -> dt.timedelta:
    return dt.timedelta(seconds=settings.ANYUAN_LIVE_KEEP_S)


def prune(older_than: dt.timedelta | None = None) -> int:
    """Delete messages created more than ``older_than`` ago (default
    ``ANYUAN_LIVE_KEEP_S``) in one DELETE; the number deleted. No audit."""
    cutoff = timezone.now() - (older_than if older_than is not None else keep())
    return LiveMessage.objects.filter(created__lt=cutoff).delete()[0]
