"""Two-factor sign-in (accounts/twofactor.py): police users and enterprise administrators
pass a TOTP code after the password; until then their session reaches nothing but the
sign-in steps — no page, no API call, no live stream. Enrolment, the code step, the
wrong-code throttle, recovery codes (each once) and the police administrator's reset.

These tests sign in through the sign-in pages (``Client.post`` to the login page), not
with ``force_login``, which the test suite makes pass the second factor."""

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from anyuan.accounts import actions as account_actions
from anyuan.accounts.models import ApiToken
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.roles import Role
from anyuan.core.testing import password_only_login, totp_code
from anyuan.core.tests.test_scoping_matrix import iter_patterns, view_model

LOGIN = reverse("accounts:login")
CODE = reverse("accounts:two-factor")
ENROL = reverse("accounts:two-factor-enrol")
ME = "/api/v1/accounts/me"
OPEN = {"accounts:two-factor", "accounts:two-factor-enrol", "accounts:login", "accounts:logout"}
OPEN |= {"set_language"}


def new_client() -> Client:
    return Client(raise_request_exception=False, enforce_csrf_checks=False)


def password_step(world, username, client=None) -> Client:
    client = client or new_client()
    r = client.post(LOGIN, {"username": username, "password": world.password})
    assert r.status_code == 302, r.content
    return client


def enrol(world, username) -> tuple[Client, TOTPDevice, list[str]]:
    """Password, then enrolment through the pages; the client, the device, the codes."""
    client = password_step(world, username)
    assert client.get(ENROL).status_code == 200
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    r = client.post(ENROL, {"code": totp_code(device), "next": "/"})
    assert r.status_code == 200, r.content
    device.refresh_from_db()
    return client, device, r.context["codes"]


def enrolled_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def signed_in(client) -> bool:
    return client.get(ME).status_code == 200


# --- who must pass a second factor ----------------------------------------------------


@pytest.mark.parametrize(
    "role", [Role.POLICE_ADMIN, Role.POLICE_OFFICER, Role.ENTERPRISE_ADMIN], ids=str
)
def test_the_password_alone_leads_to_the_code_step(world, role):
    client = new_client()
    r = client.post(LOGIN, {"username": world.users[role].username, "password": world.password})
    assert r.status_code == 302
    assert urlsplit(r["Location"]).path == CODE
    assert not signed_in(client)
    # not enrolled yet: the code step sends the user to set up an authenticator
    r = client.get(r["Location"])
    assert r.status_code == 302 and urlsplit(r["Location"]).path == ENROL


@pytest.mark.parametrize(
    "role",
    [Role.ENTERPRISE_SECURITY, Role.EMPLOYEE, Role.INFORMANT, Role.PARTNER],
    ids=str,
)
def test_other_roles_sign_in_with_the_password(world, role):
    client = password_step(world, world.users[role].username)
    assert signed_in(client)


def test_platform_operators_must_pass_it_too(world):
    from anyuan.accounts import twofactor

    operator = world.users[Role.EMPLOYEE]
    operator.is_superuser = True
    operator.save(update_fields=["is_superuser"])
    client = new_client()
    password_only_login(client, operator)
    assert client.get("/admin/").status_code == 302
    assert twofactor.required(operator)


# --- a pending session reaches nothing -------------------------------------------------


def test_a_pending_session_reaches_no_page(world):
    """Every URL pattern, GET and POST, with the password step passed only."""
    client = password_step(world, "police_admin")
    problems = []
    checked = 0
    for name, route, pattern in iter_patterns():
        if name in OPEN or route.startswith("api/"):
            continue
        params = set(pattern.pattern.converters)
        kwargs = {}
        if params:
            model = view_model(pattern)
            obj = model._base_manager.order_by("pk").first() if model is not None else None
            if params != {"pk"} or obj is None:
                continue
            kwargs = {"pk": obj.pk}
        try:
            url = reverse(name, kwargs=kwargs) if name else None
        except Exception:  # an unnamed or admin-internal pattern: not reversible
            url = None
        if url is None:
            continue
        get = client.get(url)
        if not (get.status_code == 302 and urlsplit(get["Location"]).path == CODE):
            problems.append(f"GET {url}: {get.status_code} {get.get('Location', '')}")
        post = client.post(url, {})
        if post.status_code != 403:
            problems.append(f"POST {url}: {post.status_code}")
        checked += 1
    assert checked > 50
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/accounts/me", None),
        ("get", "/api/v1/registry/person", None),
        ("get", "/api/v1/audit/entries", None),
        ("post", "/api/v1/accounts/tokens", {"name": "from a stolen password"}),
        ("post", "/api/v1/registry/person", {"name": "x"}),
    ],
)
def test_a_pending_session_reaches_no_api_call(world, method, path, body):
    client = password_step(world, "police_admin")
    kwargs = {"content_type": "application/json", "data": body} if body else {}
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == 403, r.content
    assert not ApiToken.objects.exists()  # no bearer token from a password alone


@pytest.mark.django_db(transaction=True)
def test_a_pending_session_gets_no_live_stream(world):
    """The stream checks a session in a thread of its own, with its own connection (as
    the live app does: ``user_for`` closes old connections around its work)."""
    from concurrent.futures import ThreadPoolExecutor

    from anyuan.live.stream import user_for

    def check(key):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(user_for, ("session", key)).result()

    client = password_step(world, "police_officer")
    assert check(client.cookies[settings.SESSION_COOKIE_NAME].value) is None

    verified = new_client()
    verified.force_login(world.users[Role.POLICE_OFFICER])
    key = verified.cookies[settings.SESSION_COOKIE_NAME].value
    assert check(key) == world.users[Role.POLICE_OFFICER]


def test_htmx_requests_of_a_pending_session_are_sent_to_the_code_step(world):
    client = password_step(world, "police_officer")
    r = client.get(reverse("home"), HTTP_HX_REQUEST="true")
    assert r.status_code == 403
    assert r["HX-Redirect"] == CODE


# --- enrolment --------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_the_key_then_recovery_codes_once(world):
    client = password_step(world, "police_officer")
    page = client.get(ENROL)
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user__username="police_officer")
    assert not device.confirmed
    html = page.content.decode()
    assert "<svg" in html
    assert page.context["secret"].replace(" ", "") in re.sub(r"\s", "", html)
    # reloading shows the same key (the pending device is kept)
    assert client.get(ENROL).context["secret"] == page.context["secret"]

    wrong = client.post(ENROL, {"code": f"{(int(totp_code(device)) + 1) % 10**6:06d}"})
    assert wrong.status_code == 400
    assert wrong.context["attempts_left"] == settings.ANYUAN_2FA_FAILURE_LIMIT - 1
    assert not signed_in(client)

    done = client.post(ENROL, {"code": totp_code(device), "next": "/"})
    assert done.status_code == 200
    codes = done.context["codes"]
    assert len(codes) == settings.ANYUAN_2FA_RECOVERY_CODES == len(set(codes))
    assert all(c in done.content.decode() for c in codes)
    device.refresh_from_db()
    assert device.confirmed
    assert signed_in(client)
    entry = AuditEntry.objects.get(action=AuditAction.TWO_FACTOR)
    assert entry.after["event"] == "enrolled"
    assert entry.object_id == str(world.users[Role.POLICE_OFFICER].pk)
    assert not any(c.replace("-", "") in str(entry.after) for c in codes)


def test_a_password_alone_cannot_replace_an_enrolled_authenticator(world):
    _client, device, _codes = enrol(world, "police_officer")
    thief = password_step(world, "police_officer")
    r = thief.get(ENROL)
    assert r.status_code == 302 and urlsplit(r["Location"]).path == CODE
    r = thief.post(ENROL, {"code": "123456"})
    assert r.status_code == 302
    assert list(TOTPDevice.objects.filter(user__username="police_officer")) == [device]
    assert not signed_in(thief)


# --- the code step ------------------------------------------------------------------------


def test_the_code_step_signs_in_with_the_authenticators_code(world):
    device = enrolled_device(world.users[Role.ENTERPRISE_ADMIN])
    client = password_step(world, "enterprise_admin")
    before = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(CODE).status_code == 200
    r = client.post(CODE, {"code": totp_code(device), "next": "/registry/person/"})
    assert r.status_code == 302 and r["Location"] == "/registry/person/"
    assert signed_in(client)
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before  # a new session key


def test_a_code_is_accepted_once(world):
    device = enrolled_device(world.users[Role.POLICE_OFFICER])
    code = totp_code(device)
    first = password_step(world, "police_officer")
    assert first.post(CODE, {"code": code}).status_code == 302
    second = password_step(world, "police_officer")
    assert second.post(CODE, {"code": code}).status_code == 400
    assert not signed_in(second)


def test_the_code_step_does_not_redirect_elsewhere(world):
    device = enrolled_device(world.users[Role.POLICE_OFFICER])
    client = password_step(world, "police_officer")
    r = client.post(CODE, {"code": totp_code(device), "next": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == reverse("landing")


def test_wrong_codes_are_throttled_per_user(world):
    user = world.users[Role.POLICE_ADMIN]
    device = enrolled_device(user)
    client = password_step(world, "police_admin")
    limit = settings.ANYUAN_2FA_FAILURE_LIMIT
    statuses = [client.post(CODE, {"code": f"{n:06d}"}).status_code for n in range(limit)]
    assert statuses == [400] * (limit - 1) + [429]
    # the right code is refused now, in this session and in a fresh one
    assert client.post(CODE, {"code": totp_code(device)}).status_code == 429
    fresh = password_step(world, "police_admin")
    assert fresh.post(CODE, {"code": totp_code(device, 1)}).status_code == 429
    assert not signed_in(client) and not signed_in(fresh)
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN_LOCKED)
    assert entry.after["locked_by"] == ["second_factor"]
    assert entry.object_id == str(user.pk)

    # another station's administrator cannot lift it; an administrator of the station can
    stranger = new_client()
    stranger.force_login(world.foreign_users[Role.POLICE_ADMIN])
    r = stranger.post(reverse("accounts:user-sign-in", args=[user.pk]), {"action": "unlock"})
    assert r.status_code == 404
    assert fresh.post(CODE, {"code": totp_code(device, 1)}).status_code == 429
    account_actions.unlock_sign_in(world.users[Role.POLICE_ADMIN], user)
    assert fresh.post(CODE, {"code": totp_code(device, 1)}).status_code == 302
    assert signed_in(fresh)


# --- recovery codes -------------------------------------------------------------------


def test_a_recovery_code_works_once(world):
    client, _device, codes = enrol(world, "police_officer")
    client.post(reverse("accounts:logout"))

    lost_phone = password_step(world, "police_officer")
    r = lost_phone.post(CODE, {"code": codes[0].upper()})  # as typed, with its dash
    assert r.status_code == 302
    assert signed_in(lost_phone)
    used = AuditEntry.objects.get(action=AuditAction.TWO_FACTOR, after__event="recovery code used")
    assert used.after["recovery_codes_left"] == len(codes) - 1

    again = password_step(world, "police_officer")
    assert again.post(CODE, {"code": codes[0]}).status_code == 400
    assert not signed_in(again)
    assert again.post(CODE, {"code": codes[1]}).status_code == 302


def test_recovery_codes_are_regenerated_by_the_user(world):
    client, _device, old = enrol(world, "enterprise_admin")
    r = client.post(reverse("accounts:two-factor-recovery-codes"))
    assert r.status_code == 200
    new = r.context["codes"]
    assert len(new) == settings.ANYUAN_2FA_RECOVERY_CODES and not set(new) & set(old)
    assert AuditEntry.objects.filter(
        action=AuditAction.TWO_FACTOR, after__event="recovery codes regenerated"
    ).exists()
    client.post(reverse("accounts:logout"))

    assert password_step(world, "enterprise_admin").post(CODE, {"code": old[0]}).status_code == 400
    assert password_step(world, "enterprise_admin").post(CODE, {"code": new[0]}).status_code == 302


def test_a_pending_session_cannot_regenerate_recovery_codes(world):
    enrolled_device(world.users[Role.POLICE_OFFICER])
    client = password_step(world, "police_officer")
    r = client.post(reverse("accounts:two-factor-recovery-codes"))
    assert r.status_code == 403
    assert not AuditEntry.objects.filter(action=AuditAction.TWO_FACTOR).exists()


# --- reset by a police administrator -------------------------------------------------------


def test_a_police_admin_resets_a_users_two_factor(world):
    officer_client, _device, codes = enrol(world, "police_officer")
    assert signed_in(officer_client)
    officer = world.users[Role.POLICE_OFFICER]

    admin = new_client()
    admin.force_login(world.users[Role.POLICE_ADMIN])
    page = admin.get(reverse("accounts:user-sign-in", args=[officer.pk]))
    assert page.status_code == 200 and page.context["enrolled"]
    r = admin.post(
        reverse("accounts:user-sign-in", args=[officer.pk]), {"action": "reset-two-factor"}
    )
    assert r.status_code == 302

    assert not TOTPDevice.objects.filter(user=officer).exists()
    entry = AuditEntry.objects.get(action=AuditAction.TWO_FACTOR, after__event="reset")
    assert entry.actor == world.users[Role.POLICE_ADMIN]
    assert entry.object_id == str(officer.pk)
    # the officer's session no longer counts as passed, and the old codes are gone
    assert not signed_in(officer_client)
    client = password_step(world, "police_officer")
    assert client.post(CODE, {"code": codes[0]}).status_code in (302, 400)
    assert not signed_in(client)
    r = client.get(CODE)
    assert r.status_code == 302 and urlsplit(r["Location"]).path == ENROL


@pytest.mark.parametrize(
    "actor",
    [
        lambda w: w.users[Role.POLICE_OFFICER],
        lambda w: w.users[Role.ENTERPRISE_ADMIN],
        lambda w: w.foreign_users[Role.POLICE_ADMIN],
    ],
    ids=["police officer", "enterprise admin", "another station's admin"],
)
def test_only_a_police_admin_of_the_station_resets(world, actor):
    target = world.users[Role.ENTERPRISE_ADMIN]
    if actor(world) == target:
        target = world.users[Role.POLICE_ADMIN]
    enrolled_device(target)
    who = actor(world)
    with pytest.raises(PermissionDenied):
        account_actions.reset_two_factor(who, target)
    client = new_client()
    client.force_login(who)
    r = client.post(
        reverse("accounts:user-sign-in", args=[target.pk]), {"action": "reset-two-factor"}
    )
    assert r.status_code in (403, 404)
    assert TOTPDevice.objects.filter(user=target, name="authenticator").exists()
    assert not AuditEntry.objects.filter(action=AuditAction.TWO_FACTOR).exists()


def test_the_api_resets_and_unlocks_for_a_police_admin_only(world):

    officer = world.users[Role.POLICE_OFFICER]
    enrolled_device(officer)
    url = f"/api/v1/accounts/users/{officer.pk}"
    enterprise = new_client()
    enterprise.force_login(world.users[Role.ENTERPRISE_ADMIN])
    assert enterprise.post(f"{url}/reset-two-factor").status_code == 404  # not in its scope
    colleague = new_client()
    colleague.force_login(world.users[Role.POLICE_OFFICER])
    other = world.users[Role.POLICE_ADMIN]
    enrolled_device(other)
    r = colleague.post(f"/api/v1/accounts/users/{other.pk}/reset-two-factor")
    assert r.status_code in (403, 404)
    assert TOTPDevice.objects.filter(user=other).exists()

    admin = new_client()
    admin.force_login(world.users[Role.POLICE_ADMIN])
    assert admin.post(f"{url}/reset-two-factor").status_code == 204
    assert not TOTPDevice.objects.filter(user=officer).exists()
    assert admin.post(f"{url}/unlock").status_code == 204
    actions = set(
        AuditEntry.objects.filter(object_id=str(officer.pk)).values_list("action", flat=True)
    )
    assert {AuditAction.TWO_FACTOR, AuditAction.LOGIN_UNLOCKED} <= actions


def test_the_demo_gives_its_accounts_an_authenticator_key(world, settings, tmp_path):
    """``anyuan demo`` keeps each demo account's key (mode 0600) so that a person adds it to
    an authenticator app and the browser tests compute its codes; the code step takes them."""
    import base64
    import json
    import stat

    from django_otp.oath import TOTP

    from anyuan.core.management.commands.demo import Command

    settings.VAR_DIR = tmp_path
    secrets = Command().ensure_authenticators(list(world.users.values()))
    assert set(secrets) == {"police_admin", "police_officer", "enterprise_admin"}
    path = tmp_path / "demo" / "totp-secrets.json"
    assert json.loads(path.read_text()) == secrets
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # a second run keeps the keys
    assert Command().ensure_authenticators(list(world.users.values())) == secrets

    key = secrets["police_officer"]
    totp = TOTP(base64.b32decode(key + "=" * (-len(key) % 8)))
    client = password_step(world, "police_officer")
    assert client.post(CODE, {"code": f"{totp.token():06d}"}).status_code == 302
    assert signed_in(client)
