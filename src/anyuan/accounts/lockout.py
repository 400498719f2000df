"""Sign-in lock-out: django-axes' database handler with one limit per kind of count.

Axes counts failed sign-ins in its ``AccessAttempt`` table (one row per user name, address
and browser, shared by every process) and compares each of ``AXES_LOCKOUT_PARAMETERS``'
counts with a single limit. We count the same rows three ways, each with its own limit
(settings.py, docs/security.md):

- the (user name, address) pair — ``ANYUAN_LOGIN_FAILURE_LIMIT``: a person mistyping;
- the address over all user names — ``ANYUAN_LOGIN_ADDRESS_FAILURE_LIMIT``: one machine
  trying many accounts;
- the user name over all addresses — ``ANYUAN_LOGIN_USER_FAILURE_LIMIT``: many machines
  trying one account.

``get_failures`` reports the failures on the pair's scale — the pair's limit less the
fewest attempts any count has left — so that axes' own comparison with
``AXES_FAILURE_LIMIT`` (the pair's limit) locks as soon as any count reaches its own
limit, and the sign-in page can say how many attempts are left.

A successful sign-in clears the pair's rows only: an attacker who holds one account must
not be able to wipe an address's or another user name's count by signing in with it.
"""

from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

PAIR, ADDRESS, USER = "pair", "address", "user"
KINDS = {
    ("username", "ip_address"): PAIR,
    ("ip_address",): ADDRESS,
    ("username",): USER,
}
LIMIT_SETTINGS = {
    PAIR: "ANYUAN_LOGIN_FAILURE_LIMIT",
    ADDRESS: "ANYUAN_LOGIN_ADDRESS_FAILURE_LIMIT",
    USER: "ANYUAN_LOGIN_USER_FAILURE_LIMIT",
}


def limit(kind: str) -> int:
    return int(getattr(settings, LIMIT_SETTINGS[kind]))


class LockoutHandler(AxesDatabaseHandler):
    def counts(self, request, credentials=None) -> list[tuple[str, int, int]]:
        """(kind, failures in the cool-off window, limit) for each kind of count."""
        parameters = get_lockout_parameters(request, credentials)
        values = {
            "username": get_client_username(request, credentials),
            "ip_address": getattr(request, "axes_ip_address", None),
        }
        out = []
        for parameter, attempts in zip(
            parameters, self.get_user_attempts(request, credentials), strict=True
        ):
            names = (parameter,) if isinstance(parameter, str) else tuple(parameter)
            kind = KINDS[names]
            if any(values.get(name) in (None, "") for name in names):
                failures = 0  # nothing to count by (no address or no user name given)
            else:
                total = attempts.aggregate(n=Sum("failures_since_start"))["n"]
                failures = total or 0
            out.append((kind, failures, limit(kind)))
        return out

    def locked_by(self, request, credentials=None) -> list[str]:
        """The kinds of count that have reached their limit."""
        return [kind for kind, n, lim in self.counts(request, credentials) if n >= lim]

    def get_failures(self, request, credentials=None) -> int:
        counts = self.counts(request, credentials)
        left = min(lim - n for _kind, n, lim in counts)
        return max(limit(PAIR) - left, 0)

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(
            username=username, ip_address=request.axes_ip_address
        ).delete()
        return count


def clear_user(username: str) -> int:
    """Forget a user name's failures from every address (an administrator's unlock)."""
    count, _ = AccessAttempt.objects.filter(username=username).delete()
    return count


def _window_start():
    return timezone.now() - timedelta(minutes=settings.ANYUAN_LOGIN_COOLOFF_MINUTES)


def user_locked(username: str) -> bool:
    """Whether a user name is locked now, from every address (its own count) or from some
    address (a pair's count). An address's lock over all user names is not shown here."""
    rows = AccessAttempt.objects.filter(username=username, attempt_time__gte=_window_start())
    per_address = rows.order_by().values("ip_address").annotate(n=Sum("failures_since_start"))
    total = sum(row["n"] for row in per_address)
    return total >= limit(USER) or any(row["n"] >= limit(PAIR) for row in per_address)


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked sign-in gets (``AXES_LOCKOUT_CALLABLE``): 429, in the user's
    language, with the cool-off from the settings."""
    from django.shortcuts import render

    return render(
        request,
        "registration/locked.html",
        {"minutes": settings.ANYUAN_LOGIN_COOLOFF_MINUTES},
        status=429,
    )
