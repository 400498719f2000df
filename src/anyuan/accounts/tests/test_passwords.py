"""Password rules (settings.AUTH_PASSWORD_VALIDATORS, accounts/passwords.py): 12 characters
at least, not the user name nor close to it, not common, not digits only — on every path
that sets a password: the API, the user pages, the password page, the action, the admin's
forms and ``anyuan demo``. ``wangwei2026`` used to be accepted for the user ``wangwei2026``."""

import json

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from anyuan.accounts import actions as account_actions
from anyuan.accounts.models import User
from anyuan.core import actions
from anyuan.core.roles import Role

NAME = "wangwei2026"
BAD = {
    "the user name": NAME,
    "the user name, lengthened": "wangwei2026!",
    "the user name, padded": "Wangwei2026-xyzabcdefg",
    "the user name's letters": "Wangwei-9431-7712",
    "eleven characters": "Kq7-vmx2-Lp",
    "digits only": "738104925561",
    "a common password": "password1234",
}
GOOD = "Zhong-guo-2026-anyuan"


def admin_client(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.POLICE_ADMIN])
    return client


@pytest.mark.parametrize("password", BAD.values(), ids=BAD.keys())
def test_the_validators_refuse(password):
    with pytest.raises(ValidationError):
        validate_password(password, User(username=NAME))


def test_a_good_password_passes():
    validate_password(GOOD, User(username=NAME))


@pytest.mark.parametrize("password", BAD.values(), ids=BAD.keys())
def test_the_api_refuses_a_weak_password_for_a_new_user(world, password):
    r = admin_client(world).post(
        "/api/v1/accounts/users",
        json.dumps(
            {
                "username": NAME,
                "password": password,
                "role": "police_officer",
                "station_id": world.home.station.pk,
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 422, r.content
    assert {tuple(d["loc"]) for d in r.json()["detail"]} == {("body", "password")}
    assert not User.objects.filter(username=NAME).exists()


@pytest.mark.parametrize("password", BAD.values(), ids=BAD.keys())
def test_the_user_page_refuses_a_weak_password_for_a_new_user(world, password):
    r = admin_client(world).post(
        "/accounts/users/add/",
        {
            "username": NAME,
            "password": password,
            "role": "police_officer",
            "station": world.home.station.pk,
            "is_active": "on",
        },
    )
    assert r.status_code == 400
    assert r.context["form"].errors.get("password")
    assert not User.objects.filter(username=NAME).exists()


def make_user(world):
    user = User(username=NAME, role=Role.POLICE_OFFICER, station=world.home.station)
    user.set_password(GOOD)
    user.save()
    return user


@pytest.mark.parametrize("password", BAD.values(), ids=BAD.keys())
def test_the_password_page_refuses_a_weak_password(world, password):
    user = make_user(world)
    r = admin_client(world).post(
        f"/accounts/users/{user.pk}/password/",
        {"new_password1": password, "new_password2": password},
    )
    assert r.status_code == 400
    user.refresh_from_db()
    assert user.check_password(GOOD)


@pytest.mark.parametrize("password", BAD.values(), ids=BAD.keys())
def test_the_action_refuses_a_weak_password(world, password):
    user = make_user(world)
    with pytest.raises(actions.ValidationFailed) as e:
        account_actions.set_password(user, user, password)
    assert "password" in e.value.errors
    user.refresh_from_db()
    assert user.check_password(GOOD)


def test_the_admins_password_form_sets_no_password(world):
    """The Django admin is read-only: its password form, which would bypass the audited
    action, refuses every password, weak or strong."""
    user = make_user(world)
    operator = User.objects.create(username="operator", is_superuser=True, is_staff=True)
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    for password in (NAME, "a-long-and-unrelated-passphrase-2026"):
        r = client.post(
            f"/admin/accounts/user/{user.pk}/password/",
            {"password1": password, "password2": password, "usable_password": "true"},
        )
        assert r.status_code == 403
    user.refresh_from_db()
    assert user.check_password(GOOD)


def test_the_demo_password_passes_for_every_demo_account():
    from anyuan.core.management.commands.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

    for username, role, title in DEMO_ACCOUNTS:
        validate_password(DEMO_PASSWORD, User(username=username, role=role, first_name=title))


def test_the_demo_refuses_to_create_accounts_with_a_weak_password(db, monkeypatch):
    from anyuan.core.management.commands import demo

    monkeypatch.setattr(demo, "DEMO_PASSWORD", "police_admin")
    with pytest.raises(ValidationError):
        demo.Command().ensure_accounts()
    assert not User.objects.exists()
