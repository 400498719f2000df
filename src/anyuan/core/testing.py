"""Helpers for tests: valid identifiers made from a sequence number."""

import datetime as dt

from anyuan.core.identifiers import USCC_CHARS, id_check_digit, org_code_check_char, uscc_check_char


def make_id_number(seq: int, region: str = "330206", born: dt.date = dt.date(1990, 1, 1)) -> str:
    """A valid 18-digit resident ID number; ``seq`` (0–999) sets the order code."""
    body = f"{region}{born:%Y%m%d}{seq % 1000:03d}"
    return body + id_check_digit(body)


def make_credit_code(seq: int, region: str = "330206") -> str:
    """A valid unified social credit code whose organisation code encodes ``seq``."""
    org = f"{seq % 10**8:08d}"
    body = f"91{region}{org}{org_code_check_char(org)}"
    return body + uscc_check_char(body)


def make_phone(seq: int) -> str:
    return f"139{seq % 10**8:08d}"


__all__ = ["USCC_CHARS", "make_credit_code", "make_id_number", "make_phone"]


# --- signing in, in tests -------------------------------------------------------------


def verified_session(client, user) -> None:
    """Mark ``client``'s session (signed in as ``user``) as having passed the second
    factor, as the code step does (``accounts.twofactor.mark_passed``): with a confirmed
    authenticator of the user's, made here if the user has none. Users who need no second
    factor are left as they are.

    The test suite's ``force_login`` does this after signing in (src/anyuan/conftest.py),
    so tests about what a role may do are not about the code step; the code step itself is
    tested through the sign-in pages (accounts/tests/test_two_factor.py). Production code
    has no such shortcut."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from anyuan.accounts import twofactor

    if not twofactor.required(user):
        return
    device = twofactor.authenticator(user) or TOTPDevice.objects.create(
        user=user, name=twofactor.AUTHENTICATOR, confirmed=True
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def password_only_login(client, user) -> None:
    """``force_login`` as Django does it: the password step only, the second factor not
    passed (for tests of the code step and of what a pending session can reach)."""
    backend = client._get_backend()
    user.backend = backend
    client._login(user, backend)


def totp_code(device, steps_ahead: int = 0) -> str:
    """The code ``device``'s authenticator app shows now (or ``steps_ahead`` 30-second steps
    later: each code is accepted once, and the device accepts one step ahead)."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"
