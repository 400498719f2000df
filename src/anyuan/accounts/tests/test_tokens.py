"""API tokens expire (``ANYUAN_TOKEN_TTL_DAYS``) and end with their user's password: a
stolen key stops working after the default life or as soon as the password is changed,
by the user, by an administrator, or by any other path; other sessions end too."""

import datetime as dt
import io
import json

import pytest
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from anyuan.accounts import actions as account_actions
from anyuan.accounts import models as account_models
from anyuan.accounts.models import ApiToken
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.roles import Role

ME = "/api/v1/accounts/me"
TOKENS = "/api/v1/accounts/tokens"
NEW_PASSWORD = "Zhong-guo-2026-anyuan"


def client_for(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def with_key(key):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def works(key) -> bool:
    return Client(raise_request_exception=False).get(ME, **with_key(key)).status_code == 200


def issue(client, body):
    return client.post(TOKENS, json.dumps(body), content_type="application/json")


@pytest.fixture
def later(monkeypatch):
    """Move the clock the tokens are checked against forward."""

    def move(days):
        moved = timezone.now() + dt.timedelta(days=days)
        monkeypatch.setattr(account_models.timezone, "now", lambda: moved)

    return move


# --- expiry ------------------------------------------------------------------------------


def test_a_token_expires_after_the_default_life(world, settings, later):
    settings.ANYUAN_TOKEN_TTL_DAYS = 30
    me = world.users[Role.ENTERPRISE_ADMIN]
    r = issue(client_for(me), {"name": "门禁对接"})
    assert r.status_code == 201, r.content
    key = r.json()["key"]
    expires = dt.datetime.fromisoformat(r.json()["expires"])
    assert abs(expires - (timezone.now() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)
    assert works(key)
    later(29)
    assert works(key)
    later(31)
    assert not works(key)
    r = Client().get(ME, **with_key(key))
    assert r.status_code == 401


def test_the_token_list_and_page_show_the_expiry(world):
    me = world.users[Role.POLICE_OFFICER]
    client = client_for(me)
    page = client.post("/accounts/tokens/new/", {"name": "对接"})
    assert page.status_code == 200
    token = ApiToken.objects.get(user=me)
    shown = timezone.localtime(token.expires).strftime("%Y-%m-%d %H:%M")
    assert shown in page.content.decode()
    listing = client.get(TOKENS).json()
    listed = dt.datetime.fromisoformat(listing[0]["expires"])
    assert abs(listed - token.expires) < dt.timedelta(milliseconds=1)


@pytest.mark.parametrize(
    "expires", [lambda: timezone.now() - dt.timedelta(minutes=1), lambda: timezone.now()]
)
def test_an_expiry_in_the_past_is_a_field_error(world, expires):
    r = issue(
        client_for(world.users[Role.POLICE_OFFICER]),
        {"name": "x", "expires": expires().isoformat()},
    )
    assert r.status_code == 422, r.content
    assert r.json()["detail"][0]["loc"] == ["body", "expires"]
    assert not ApiToken.objects.exists()


def test_no_token_lives_longer_than_the_default(world, settings):
    settings.ANYUAN_TOKEN_TTL_DAYS = 90
    too_late = timezone.now() + dt.timedelta(days=91)
    r = issue(
        client_for(world.users[Role.POLICE_ADMIN]), {"name": "x", "expires": too_late.isoformat()}
    )
    assert r.status_code == 422, r.content
    assert r.json()["detail"][0]["loc"] == ["body", "expires"]
    assert not ApiToken.objects.exists()
    sooner = timezone.now() + dt.timedelta(days=7)
    r = issue(
        client_for(world.users[Role.POLICE_ADMIN]), {"name": "x", "expires": sooner.isoformat()}
    )
    assert r.status_code == 201, r.content
    assert ApiToken.objects.get().expires == sooner


# --- a new password ----------------------------------------------------------------------


def own_change(world, user):
    r = client_for(user).post(
        f"/accounts/users/{user.pk}/password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert r.status_code == 302, r.content


def admin_reset(world, user):
    r = client_for(world.users[Role.ENTERPRISE_ADMIN]).post(
        f"/accounts/users/{user.pk}/password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert r.status_code == 302, r.content


def action(world, user):
    account_actions.set_password(world.users[Role.POLICE_ADMIN], user, NEW_PASSWORD)


def django_admin_form(world, user):
    form = AdminPasswordChangeForm(user, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert form.is_valid(), form.errors
    form.save()


def command(world, user):
    """``anyuan changepassword`` (the test answers its prompts: see below)."""
    call_command("changepassword", user.username, stdout=io.StringIO())


def unusable(world, user):
    user.set_unusable_password()
    user.save()


@pytest.mark.parametrize(
    "change", [own_change, admin_reset, action, django_admin_form, command, unusable]
)
def test_a_new_password_revokes_every_token_and_ends_other_sessions(world, change, monkeypatch):
    user = world.users[Role.ENTERPRISE_SECURITY]
    _first, key1 = account_actions.issue_token(user, user, "gate 1")
    _second, key2 = account_actions.issue_token(user, user, "gate 2")
    other = world.users[Role.ENTERPRISE_ADMIN]
    _theirs, their_key = account_actions.issue_token(other, other, "not theirs")
    elsewhere = client_for(user)  # a session on another machine
    assert elsewhere.get(ME).status_code == 200
    assert works(key1) and works(key2)
    if change is command:
        monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    change(world, user)
    assert not works(key1) and not works(key2)
    assert ApiToken.objects.filter(user=user, revoked=False).count() == 0
    assert works(their_key)  # someone else's tokens are untouched
    assert elsewhere.get(ME).status_code == 401


def test_changing_ones_own_password_keeps_this_session_and_audits_the_revocation(world):
    user = world.users[Role.ENTERPRISE_SECURITY]
    account_actions.issue_token(user, user, "gate")
    client = client_for(user)
    r = client.post(
        f"/accounts/users/{user.pk}/password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert r.status_code == 302
    assert client.get(ME).status_code == 200  # this session goes on
    entry = AuditEntry.objects.filter(action=AuditAction.UPDATE, object_type="accounts.user").get()
    assert entry.after == {"password": "changed", "api_tokens_revoked": 1}


def test_a_rehash_at_sign_in_is_no_password_change(world, settings):
    """Django re-hashes a password with a stronger hasher at sign-in: tokens stay."""
    user = world.users[Role.POLICE_OFFICER]
    _token, key = account_actions.issue_token(user, user, "gate")
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    r = Client().post("/accounts/login/", {"username": user.username, "password": world.password})
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_")  # it was re-hashed
    assert works(key)
