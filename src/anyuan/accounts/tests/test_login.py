"""Sign-in is throttled: repeated failures lock the user name (django-axes), other accounts
are unaffected, and a successful sign-in resets the count. Lock-outs per address and per
user name over many addresses: test_lockout.py; the second factor: test_two_factor.py."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from anyuan.core.roles import Role

LOGIN = reverse("accounts:login")


def attempt(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def signed_in_as(client) -> str | None:
    """The user name the client's session belongs to, asked of the API (a session that has
    not passed the second factor yet answers 403 there)."""
    r = client.get("/api/v1/accounts/me")
    return r.json()["username"] if r.status_code == 200 else None


def is_success(response) -> bool:
    """The password was accepted: on to the start page, or to the code step for a user
    who must pass a second factor."""
    return response.status_code == 302 and response["Location"] in (
        reverse("landing"),
        f"{reverse('accounts:two-factor')}?next=%2F",
    )


def finish_sign_in(client, username):
    """The second factor, for a user who needs one: enrol an authenticator and give its
    code, as a person would (test_two_factor.py tests these steps one by one)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from anyuan.core.testing import totp_code

    r = client.get(reverse("accounts:two-factor-enrol"))
    if r.status_code != 200:
        return
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    r = client.post(reverse("accounts:two-factor-enrol"), {"code": totp_code(device)})
    assert r.status_code == 200, r.content


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def test_the_right_password_signs_in(world, client):
    r = attempt(client, "police_officer", world.password)
    assert is_success(r)
    assert signed_in_as(client) is None  # not before the second factor
    finish_sign_in(client, "police_officer")
    assert signed_in_as(client) == "police_officer"


def test_a_user_without_second_factor_signs_in_with_the_password(world, client):
    r = attempt(client, "employee", world.password)
    assert r.status_code == 302 and r["Location"] == reverse("landing")
    assert signed_in_as(client) == "employee"


def test_a_wrong_password_is_refused_with_the_form_again(world, client):
    r = attempt(client, "police_officer", "wrong-password")
    assert r.status_code == 200
    assert "form" in r.context and r.context["form"].errors
    assert signed_in_as(client) is None


def test_failure_limit_is_five():
    assert settings.AXES_FAILURE_LIMIT == settings.ANYUAN_LOGIN_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME * 60 == settings.ANYUAN_LOGIN_COOLOFF_MINUTES == 15


def test_five_failures_lock_the_account_even_for_the_right_password(world, client):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        r = attempt(client, "police_officer", "wrong-password")
        assert r.status_code == 200  # the form again, not yet locked
    r = attempt(client, "police_officer", "wrong-password")
    assert r.status_code in (403, 429)  # the fifth failure locks

    r = attempt(client, "police_officer", world.password)
    assert not is_success(r)
    assert r.status_code in (403, 429)
    assert settings.AXES_LOCKOUT_TEMPLATE in [t.name for t in r.templates]
    assert signed_in_as(client) is None


def test_a_locked_account_does_not_lock_another(world, client):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "police_officer", "wrong-password")
    assert not is_success(attempt(client, "police_officer", world.password))

    other = Client(raise_request_exception=False)
    r = attempt(other, "police_admin", world.password)
    assert is_success(r)
    finish_sign_in(other, "police_admin")
    assert signed_in_as(other) == "police_admin"


def test_success_resets_the_failure_count(world, client):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "enterprise_admin", "wrong-password")
    assert is_success(attempt(client, "enterprise_admin", world.password))
    client.post(reverse("accounts:logout"))

    # four more failures: without the reset this would be nine, well past the limit
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "enterprise_admin", "wrong-password")
    assert is_success(attempt(client, "enterprise_admin", world.password))


def test_unknown_user_names_are_throttled_too(world, client):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "nobody-here", "guess")
    r = attempt(client, "nobody-here", "guess")
    assert r.status_code in (403, 429)


def test_an_inactive_user_cannot_sign_in(world, client):
    user = world.users[Role.POLICE_OFFICER]
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not is_success(attempt(client, "police_officer", world.password))
    assert signed_in_as(client) is None


def test_a_lock_out_is_written_to_the_audit_log(world, client):
    from anyuan.core.models import AuditAction, AuditEntry

    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "police_officer", "wrong-password")
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN_LOCKED)
    assert entry.object_repr == "police_officer"
    assert entry.object_id == str(world.users[Role.POLICE_OFFICER].pk)
    assert entry.station_id == world.home.station.pk
