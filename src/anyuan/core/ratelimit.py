"""Counting attempts in a window, in the database, so that every web process and every
server of a site share one count (a per-process memory would let an attacker spread
attempts over workers).

``hit(key, limit, window_s)`` counts one attempt and says whether it is still within the
limit; ``blocked(key, limit)`` only looks. Keys name what is counted and for whom, e.g.
``"disputes:follow:ip:10.0.0.7"`` or ``"search:personal:user:42"``.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from anyuan.core.models import RateCounter


def hit(key: str, limit: int, window_s: float) -> bool:
    """Count one attempt under ``key``; True while the count in the current window is at
    most ``limit``. A window starts at the first attempt and lasts ``window_s`` seconds."""
    now = timezone.now()
    fresh_after = now - timedelta(seconds=window_s)
    for _attempt in range(3):
        with transaction.atomic():
            n = RateCounter.objects.filter(key=key, window_start__gt=fresh_after).update(
                count=F("count") + 1
            )
            if n:
                count = RateCounter.objects.filter(key=key).values_list("count", flat=True)[0]
                return count <= limit
            stale = RateCounter.objects.filter(key=key, window_start__lte=fresh_after)
            if stale.update(window_start=now, count=1):
                return limit >= 1
        try:
            with transaction.atomic():
                RateCounter.objects.create(key=key, window_start=now, count=1)
            return limit >= 1
        except IntegrityError:
            continue  # another process created it a moment ago: count again
    return False


def count(key: str, window_s: float) -> int:
    """Attempts counted under ``key`` in its current window (0 when it has expired)."""
    fresh_after = timezone.now() - timedelta(seconds=window_s)
    row = RateCounter.objects.filter(key=key, window_start__gt=fresh_after).values_list(
        "count", flat=True
    )
    return row[0] if row else 0


def blocked(key: str, limit: int, window_s: float) -> bool:
    """True when ``key`` has used up its ``limit`` in the current window (counts nothing)."""
    return count(key, window_s) >= limit


def reset(key: str) -> None:
    RateCounter.objects.filter(key=key).delete()


def prune(older_than_s: float = 86400) -> int:
    """Drop counters whose window started long ago (a periodic job)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return RateCounter.objects.filter(window_start__lt=cutoff).delete()[0]
