"""Two-factor sign-in (TOTP, RFC 6238) with one-time recovery codes, on django-otp.

Who: every user whose role is in ``core.roles.TWO_FACTOR_ROLES`` (police administrators,
police officers, enterprise administrators) and platform operators. There is no setting
that turns it off.

How: the password step signs the session in (django.contrib.auth), but until the second
factor is passed the session is *pending*: ``TwoFactorMiddleware`` lets it reach only the
code step, the enrolment page, sign-out and the language switch; every other page
redirects to the code step (or answers 403 to htmx and form posts), every session call to
the API answers 403, and the live stream refuses it (``session_passed``). A user with no
confirmed authenticator is sent to enrolment (QR code and secret, confirmed with a code,
then ten recovery codes shown once). Passing the code step stores the device in the
session (``django_otp.login``) and gives the session a new key.

Devices: one ``TOTPDevice`` per user (the authenticator app) and one ``StaticDevice``
named ``recovery`` holding the unused recovery codes. Wrong codes are counted per user in
the shared counter (``core.ratelimit``); at the limit the code step refuses every code
until the window ends. API bearer tokens are a credential of their own, issued from a
session that passed both factors; this module does not touch them.

Tests sign in with ``Client.force_login``; the test suite's ``verified_session`` helper
(``anyuan.core.testing``) then marks the session as having passed the second factor, with
a real confirmed device, as the code step does.
"""

import re

import segno
from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from anyuan.core import ratelimit
from anyuan.core.roles import TWO_FACTOR_ROLES

RECOVERY = "recovery"  # the StaticDevice's name
AUTHENTICATOR = "authenticator"  # the TOTPDevice's name


def required(user) -> bool:
    """Whether ``user`` must pass a second factor to use a session."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or getattr(user, "role", None) in TWO_FACTOR_ROLES)


def pending(request) -> bool:
    """The session is signed in with the password but has not passed the second factor."""
    user = getattr(request, "user", None)
    if not required(user):
        return False
    is_verified = getattr(user, "is_verified", None)
    return not (is_verified and is_verified())


def session_passed(user, session) -> bool:
    """For code outside Django's middleware (the live stream): whether ``session`` of
    ``user`` may act — the user needs no second factor, or the session holds a confirmed
    device of theirs."""
    if not required(user):
        return True
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def authenticator(user, *, confirmed: bool | None = True) -> TOTPDevice | None:
    qs = TOTPDevice.objects.filter(user=user)
    if confirmed is not None:
        qs = qs.filter(confirmed=confirmed)
    return qs.order_by("-pk").first()


def enrolled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_device(user) -> StaticDevice | None:
    return StaticDevice.objects.filter(user=user, name=RECOVERY).first()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY).count()


def new_recovery_codes(user) -> list[str]:
    """Replace the user's recovery codes with fresh ones; returns them (shown once)."""
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(settings.ANYUAN_2FA_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def show_code(code: str) -> str:
    """``abcdefgh`` → ``abcd-efgh``, easier to copy by hand."""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def normalise(code: str) -> str:
    return re.sub(r"[\s\-]+", "", code or "").lower()[:32]


def is_totp_code(code: str) -> bool:
    return bool(re.fullmatch(r"\d{6}", code))


# --- the wrong-code throttle (core/ratelimit.py) -----------------------------------------


def _throttle_key(user) -> str:
    return f"accounts:2fa:user:{user.pk}"


def _window_s() -> float:
    return settings.ANYUAN_2FA_WINDOW_MINUTES * 60


def throttled(user) -> bool:
    return ratelimit.blocked(_throttle_key(user), settings.ANYUAN_2FA_FAILURE_LIMIT, _window_s())


def attempts_left(user) -> int:
    used = ratelimit.count(_throttle_key(user), _window_s())
    return max(settings.ANYUAN_2FA_FAILURE_LIMIT - used, 0)


def count_failure(user) -> bool:
    """Count one wrong code; True when this one reached the limit (the lock begins)."""
    ratelimit.hit(_throttle_key(user), settings.ANYUAN_2FA_FAILURE_LIMIT, _window_s())
    return ratelimit.count(_throttle_key(user), _window_s()) == settings.ANYUAN_2FA_FAILURE_LIMIT


def clear_failures(user) -> None:
    ratelimit.reset(_throttle_key(user))


def mark_passed(request, device) -> None:
    """The session passed the second factor with ``device``: remember it, new session key."""
    otp_login(request, device)
    request.session.cycle_key()


def qr_svg(device: TOTPDevice) -> str:
    """The enrolment QR code (the ``otpauth://`` URI) as inline SVG."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, border=2)


def secret(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for typing into an authenticator app."""
    from base64 import b32encode

    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def safe_next(request, default: str = "") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default or reverse(settings.LOGIN_REDIRECT_URL)


# --- enforcement ----------------------------------------------------------------------

OPEN_URL_NAMES = (
    "accounts:two-factor",
    "accounts:two-factor-enrol",
    "accounts:login",
    "accounts:logout",
    "set_language",
)


def _open_paths() -> frozenset[str]:
    return frozenset(reverse(name) for name in OPEN_URL_NAMES)


class TwoFactorMiddleware:
    """A pending session (password passed, second factor not yet) reaches only the sign-in
    steps; see the module's docstring. Placed after django-otp's ``OTPMiddleware``."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._open = None

    def __call__(self, request):
        if not pending(request):
            return self.get_response(request)
        if self._open is None:
            self._open = _open_paths()
        path = request.path_info
        if path in self._open or path.startswith(settings.STATIC_URL):
            return self.get_response(request)
        message = _("Sign-in is not complete: enter the code from your authenticator app.")
        if path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=403)
        step = reverse("accounts:two-factor")
        if request.method in ("GET", "HEAD") and not request.headers.get("HX-Request"):
            return HttpResponseRedirect(f"{step}?next={_quote(request.get_full_path())}")
        response = render(
            request, "registration/two_factor_required.html", {"message": message}, status=403
        )
        response["HX-Redirect"] = step
        return response


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")
