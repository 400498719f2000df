"""Sign-in lock-out counts failures three ways (accounts/lockout.py): per (user name,
address) pair, per address over all user names (one machine spraying many accounts), and
per user name over all addresses (many machines guessing one account), each with its own
limit; addresses are the client's behind the trusted proxies (core/net.py).

Before per-address and per-user counting, 24 wrong passwords over 6 users from one
address, or 20 for one user from 5 addresses, never locked."""

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from anyuan.accounts import actions as account_actions
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.roles import Role

LOGIN = reverse("accounts:login")
SIX_USERS = [
    "police_admin",
    "police_officer",
    "enterprise_admin",
    "enterprise_security",
    "informant",
    "employee",
]


def client_from(address: str, **extra) -> Client:
    return Client(raise_request_exception=False, REMOTE_ADDR=address, **extra)


def attempt(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def locked(response) -> bool:
    return response.status_code == 429 and "registration/locked.html" in [
        t.name for t in response.templates
    ]


def accepted(response) -> bool:
    """The password step passed (on to the start page or to the code step)."""
    return response.status_code == 302 and response["Location"].startswith(("/", "/accounts/"))


@pytest.fixture
def limits():
    return (
        settings.ANYUAN_LOGIN_FAILURE_LIMIT,
        settings.ANYUAN_LOGIN_ADDRESS_FAILURE_LIMIT,
        settings.ANYUAN_LOGIN_USER_FAILURE_LIMIT,
    )


def test_thresholds_are_declared_and_the_pair_is_the_tightest(limits):
    pair, address, user = limits
    assert (pair, address, user) == (5, 20, 10)
    assert pair < user < address
    assert settings.ANYUAN_LOGIN_COOLOFF_MINUTES == 15
    assert settings.AXES_CLIENT_IP_CALLABLE == "anyuan.core.net.client_ip"


def test_one_address_trying_many_users_is_locked(world, limits):
    _pair, address_limit, _user = limits
    attacker = client_from("198.51.100.7")
    results = []
    for _round in range(4):  # 24 wrong passwords over 6 users, 4 each: no pair reaches 5
        for username in SIX_USERS:
            results.append(attempt(attacker, username, "wrong-password-123"))
    assert not any(locked(r) for r in results[: address_limit - 1])
    assert locked(results[address_limit - 1])  # the 20th failure from the address locks it
    assert all(locked(r) for r in results[address_limit:])

    # the address is locked for everyone, even with the right password
    assert locked(attempt(attacker, "partner", world.password))
    # another address is not
    assert accepted(attempt(client_from("198.51.100.8"), "partner", world.password))

    entry = AuditEntry.objects.get(action=AuditAction.LOGIN_LOCKED)
    assert entry.after["locked_by"] == ["address"]
    assert entry.after["ip_address"] == "198.51.100.7"


def test_many_addresses_trying_one_user_are_locked(world, limits):
    _pair, _address, user_limit = limits
    results = []
    for n in range(5):  # 20 wrong passwords for one user from 5 addresses, 4 from each
        attacker = client_from(f"203.0.113.{10 + n}")
        results += [attempt(attacker, "police_officer", "wrong-password-123") for _ in range(4)]
    assert not any(locked(r) for r in results[: user_limit - 1])
    assert locked(results[user_limit - 1])
    assert all(locked(r) for r in results[user_limit:])

    # the user name is locked from a fresh address, right password or not
    assert locked(attempt(client_from("192.0.2.99"), "police_officer", world.password))
    # the attackers' addresses are not locked for other users (4 failures each, 20 allowed)
    assert accepted(attempt(client_from("203.0.113.10"), "employee", world.password))

    entry = AuditEntry.objects.get(action=AuditAction.LOGIN_LOCKED)
    assert entry.object_id == str(world.users[Role.POLICE_OFFICER].pk)
    assert entry.after["locked_by"] == ["user"]


def test_the_pair_locks_first(world, limits):
    pair_limit, *_ = limits
    me = client_from("192.0.2.5")
    results = [attempt(me, "enterprise_admin", "wrong-password-123") for _ in range(pair_limit)]
    assert not any(locked(r) for r in results[:-1])
    assert locked(results[-1])
    assert locked(attempt(me, "enterprise_admin", world.password))
    # from another address the same user name still signs in: the pair is not the user
    assert accepted(attempt(client_from("192.0.2.6"), "enterprise_admin", world.password))
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN_LOCKED)
    assert entry.after["locked_by"] == ["pair"]


def test_the_page_counts_down_the_nearest_lock(world, limits):
    _pair, address_limit, _user = limits
    attacker = client_from("198.51.100.20")
    usernames = [f"guess{n}" for n in range(address_limit - 2)]
    for username in usernames:  # 18 failures, one per made-up user name
        attempt(attacker, username, "wrong-password-123")
    r = attempt(attacker, "police_admin", "wrong-password-123")  # the 19th
    assert r.status_code == 200
    assert r.context["attempts_left"] == 1  # the address's count, not the pair's 4


def test_signing_in_with_an_own_account_does_not_reset_the_address(world, limits):
    """An attacker who holds one account cannot wipe the address's count by signing in."""
    _pair, address_limit, _user = limits
    attacker = client_from("198.51.100.30")
    for n in range(address_limit - 1):
        attempt(attacker, SIX_USERS[n % 5], "wrong-password-123")  # 19 failures, no employee
    assert accepted(attempt(attacker, "employee", world.password))
    attacker.post(reverse("accounts:logout"))
    assert locked(attempt(attacker, "police_admin", "wrong-password-123"))  # the 20th


def test_the_address_is_the_client_behind_a_trusted_proxy(world, settings, limits):
    _pair, address_limit, _user = limits
    settings.ANYUAN_TRUSTED_PROXIES = ["10.8.0.1"]

    def via_proxy(client_address):
        return client_from("10.8.0.1", HTTP_X_FORWARDED_FOR=client_address)

    attacker = via_proxy("198.51.100.40")
    for n in range(address_limit):
        attempt(attacker, f"guess{n}", "wrong-password-123")
    assert locked(attempt(attacker, "partner", world.password))
    # another client behind the same proxy is another address
    assert accepted(attempt(via_proxy("198.51.100.41"), "partner", world.password))
    # a client that sends the header itself, not through the proxy, is its own address
    spoofer = client_from("198.51.100.42", HTTP_X_FORWARDED_FOR="198.51.100.40")
    assert accepted(attempt(spoofer, "employee", world.password))


# --- a locked user name is not locked for good: a police administrator lifts the lock ---


def lock_user(username, limit):
    for n in range(limit):
        attempt(client_from(f"203.0.113.{50 + n}"), username, "wrong-password-123")


def test_a_police_admin_unlocks_a_user_locked_from_many_addresses(world, limits):
    *_, user_limit = limits
    lock_user("police_officer", user_limit)
    assert locked(attempt(client_from("192.0.2.77"), "police_officer", world.password))

    admin = Client(raise_request_exception=False)
    admin.force_login(world.users[Role.POLICE_ADMIN])
    officer = world.users[Role.POLICE_OFFICER]
    page = admin.get(reverse("accounts:user-sign-in", args=[officer.pk]))
    assert page.status_code == 200 and page.context["locked"]
    r = admin.post(reverse("accounts:user-sign-in", args=[officer.pk]), {"action": "unlock"})
    assert r.status_code == 302

    assert accepted(attempt(client_from("192.0.2.77"), "police_officer", world.password))
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN_UNLOCKED)
    assert entry.actor == world.users[Role.POLICE_ADMIN]
    assert entry.object_id == str(officer.pk)


@pytest.mark.parametrize(
    "actor",
    [
        lambda w: w.users[Role.POLICE_OFFICER],
        lambda w: w.users[Role.ENTERPRISE_ADMIN],
        lambda w: w.foreign_users[Role.POLICE_ADMIN],
    ],
    ids=["police officer", "enterprise admin", "another station's admin"],
)
def test_only_a_police_admin_of_the_users_station_unlocks(world, limits, actor):
    *_, user_limit = limits
    target = world.users[Role.ENTERPRISE_SECURITY]
    lock_user(target.username, user_limit)
    who = actor(world)
    with pytest.raises(PermissionDenied):
        account_actions.unlock_sign_in(who, target)
    client = Client(raise_request_exception=False)
    client.force_login(who)
    r = client.post(reverse("accounts:user-sign-in", args=[target.pk]), {"action": "unlock"})
    assert r.status_code in (403, 404)
    assert locked(attempt(client_from("192.0.2.78"), target.username, world.password))
    assert not AuditEntry.objects.filter(action=AuditAction.LOGIN_UNLOCKED).exists()
