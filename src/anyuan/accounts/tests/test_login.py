"""Sign-in is throttled: repeated failures lock the user name (django-axes), other accounts
are unaffected, and a successful sign-in resets the count."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from anyuan.core.roles import Role

LOGIN = reverse("accounts:login")


def attempt(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def signed_in_as(client) -> str | None:
    """The user name the client's session belongs to, asked of the API."""
    r = client.get("/api/v1/accounts/me")
    return r.json()["username"] if r.status_code == 200 else None


def is_success(response) -> bool:
    return response.status_code == 302 and response["Location"] == reverse("landing")


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def test_the_right_password_signs_in(world, client):
    r = attempt(client, "police_officer", world.password)
    assert is_success(r)
    assert signed_in_as(client) == "police_officer"


def test_a_wrong_password_is_refused_with_the_form_again(world, client):
    r = attempt(client, "police_officer", "wrong-password")
    assert r.status_code == 200
    assert "form" in r.context and r.context["form"].errors
    assert signed_in_as(client) is None


def test_failure_limit_is_five():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME * 60 == 15  # minutes


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
