"""Users and tokens: who may create whom, and nobody can raise their own or anyone's
role or place beyond their reach — through the API or the pages."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from anyuan.accounts import actions as account_actions
from anyuan.accounts.models import ApiToken, User
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.roles import Role
from anyuan.core.testing import make_id_number
from anyuan.registry.models import Person

USERS = "/api/v1/accounts/users"
GOOD_PASSWORD = "Zhong-guo-2026-anyuan"


def api_client(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def send(client, method, url, body):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def can_sign_in(username, password) -> bool:
    client = Client()
    r = client.post("/accounts/login/", {"username": username, "password": password})
    return r.status_code == 302


def new_user(**fields):
    return {"username": "new_user", "password": GOOD_PASSWORD, **fields}


# --- creating users ----------------------------------------------------------------------


def test_police_admin_creates_an_officer_of_their_station(world):
    admin = world.users[Role.POLICE_ADMIN]
    r = send(
        api_client(admin),
        "post",
        USERS,
        new_user(role="police_officer", station_id=world.home.station.pk),
    )
    assert r.status_code == 201, r.content
    assert "password" not in r.json()
    user = User.objects.get(username="new_user")
    assert (user.role, user.station_id, user.enterprise_id) == (
        "police_officer",
        world.home.station.pk,
        None,
    )
    assert can_sign_in("new_user", GOOD_PASSWORD)
    entry = AuditEntry.objects.get(action=AuditAction.CREATE, object_type="accounts.user")
    assert entry.actor == admin
    assert "password" not in entry.after
    assert GOOD_PASSWORD not in json.dumps(entry.after)


def test_police_admin_cannot_create_users_at_another_station(world):
    r = send(
        api_client(world.users[Role.POLICE_ADMIN]),
        "post",
        USERS,
        new_user(role="police_admin", station_id=world.foreign_station.station.pk),
    )
    assert r.status_code in (403, 422)
    assert not User.objects.filter(username="new_user").exists()


def test_enterprise_admin_creates_security_staff_of_their_enterprise(world):
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]),
        "post",
        USERS,
        new_user(role="enterprise_security", enterprise_id=world.own.enterprise.pk),
    )
    assert r.status_code == 201, r.content
    user = User.objects.get(username="new_user")
    assert user.enterprise_id == world.own.enterprise.pk
    assert user.station_id == world.home.station.pk  # follows the enterprise
    assert can_sign_in("new_user", GOOD_PASSWORD)


def new_worker(world, name="OWN 新员工"):
    return Person.objects.create(
        station=world.home.station,
        enterprise=world.own.enterprise,
        name=name,
        id_number=make_id_number(77),
    )


def test_enterprise_admin_links_an_employee_login_to_their_own_person(world):
    # (world.own.colleague, used here before, is the enterprise's informant: see below)
    worker = new_worker(world)
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]),
        "post",
        USERS,
        new_user(role="employee", person_id=worker.pk),
    )
    assert r.status_code == 201, r.content
    user = User.objects.get(username="new_user")
    assert user.enterprise_id == world.own.enterprise.pk


@pytest.mark.parametrize(
    "fields",
    [
        lambda w: {"role": "police_admin", "station_id": w.home.station.pk},
        lambda w: {"role": "police_officer", "station_id": w.home.station.pk},
        lambda w: {"role": "police_admin", "station_id": w.foreign_station.station.pk},
        lambda w: {"role": "enterprise_admin", "enterprise_id": w.neighbour.enterprise.pk},
        lambda w: {"role": "enterprise_admin", "enterprise_id": w.foreign.enterprise.pk},
        lambda w: {"role": "employee", "person_id": w.neighbour.person.pk},
        lambda w: {"role": "informant", "person_id": w.foreign.person.pk},
        lambda w: {"role": "", "station_id": w.home.station.pk},
        lambda w: {"role": "superuser", "enterprise_id": w.own.enterprise.pk},
    ],
    ids=[
        "police admin",
        "police officer",
        "foreign police admin",
        "neighbour admin",
        "foreign admin",
        "neighbour employee",
        "foreign informant",
        "no role",
        "made-up role",
    ],
)
def test_enterprise_admin_cannot_create_users_beyond_their_enterprise(world, fields):
    before = (User.objects.count(), AuditEntry.objects.count())
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]), "post", USERS, new_user(**fields(world))
    )
    assert r.status_code in (403, 422), r.content
    assert r["Content-Type"].startswith("application/json")
    assert (User.objects.count(), AuditEntry.objects.count()) == before
    assert not can_sign_in("new_user", GOOD_PASSWORD)


def test_extra_fields_cannot_make_a_superuser_or_staff(world):
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]),
        "post",
        USERS,
        new_user(
            role="enterprise_security",
            enterprise_id=world.own.enterprise.pk,
            is_superuser=True,
            is_staff=True,
            user_permissions=[1, 2, 3],
            groups=[1],
        ),
    )
    assert r.status_code == 201, r.content
    user = User.objects.get(username="new_user")
    assert not user.is_superuser and not user.is_staff
    assert not user.user_permissions.exists() and not user.groups.exists()


@pytest.mark.parametrize("role", [Role.ENTERPRISE_SECURITY, Role.POLICE_OFFICER, Role.EMPLOYEE])
def test_roles_without_user_management_cannot_create_users(world, role):
    r = send(
        api_client(world.users[role]),
        "post",
        USERS,
        new_user(role="enterprise_security", enterprise_id=world.own.enterprise.pk),
    )
    assert r.status_code == 403
    assert not User.objects.filter(username="new_user").exists()


@pytest.mark.parametrize("password", ["short", "password123", "12345678"])
def test_a_weak_password_is_a_field_error(world, password):
    r = send(
        api_client(world.users[Role.POLICE_ADMIN]),
        "post",
        USERS,
        new_user(role="police_officer", station_id=world.home.station.pk, password=password),
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "password"]
    assert not User.objects.filter(username="new_user").exists()


def test_a_duplicate_user_name_is_a_field_error(world):
    r = send(
        api_client(world.users[Role.POLICE_ADMIN]),
        "post",
        USERS,
        new_user(
            username="police_officer", role="police_officer", station_id=world.home.station.pk
        ),
    )
    assert r.status_code == 422
    assert any("username" in d["loc"] for d in r.json()["detail"])


# --- changing users --------------------------------------------------------------------


def test_enterprise_admin_cannot_promote_themselves(world):
    me = world.users[Role.ENTERPRISE_ADMIN]
    client = api_client(me)
    for body in (
        {"role": "police_admin", "station_id": world.home.station.pk, "enterprise_id": None},
        {"role": "police_admin"},
        {"enterprise_id": world.neighbour.enterprise.pk},
        {"enterprise_id": None},
        {"is_superuser": True, "is_staff": True},
    ):
        r = send(client, "patch", f"{USERS}/{me.pk}", body)
        assert r.status_code in (200, 403, 422), (body, r.content)
    me.refresh_from_db()
    assert me.role == Role.ENTERPRISE_ADMIN
    assert me.enterprise_id == world.own.enterprise.pk
    assert not me.is_superuser and not me.is_staff


def test_enterprise_admin_cannot_promote_a_colleague_to_police(world):
    colleague = world.users[Role.ENTERPRISE_SECURITY]
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]),
        "patch",
        f"{USERS}/{colleague.pk}",
        {"role": "police_officer", "station_id": world.home.station.pk, "enterprise_id": None},
    )
    assert r.status_code in (403, 422)
    colleague.refresh_from_db()
    assert colleague.role == Role.ENTERPRISE_SECURITY
    assert colleague.enterprise_id == world.own.enterprise.pk


def test_enterprise_admin_may_promote_a_colleague_within_the_enterprise(world):
    colleague = world.users[Role.ENTERPRISE_SECURITY]
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]),
        "patch",
        f"{USERS}/{colleague.pk}",
        {"role": "enterprise_admin"},
    )
    assert r.status_code == 200, r.content
    colleague.refresh_from_db()
    assert colleague.role == Role.ENTERPRISE_ADMIN


@pytest.mark.parametrize(
    "target",
    [
        lambda w: w.users[Role.POLICE_ADMIN],
        lambda w: w.neighbour_users[Role.ENTERPRISE_ADMIN],
        lambda w: w.foreign_users[Role.ENTERPRISE_ADMIN],
    ],
    ids=["police admin", "neighbour admin", "foreign admin"],
)
def test_enterprise_admin_cannot_touch_users_outside_their_enterprise(world, target):
    user = target(world)
    client = api_client(world.users[Role.ENTERPRISE_ADMIN])
    assert client.get(f"{USERS}/{user.pk}").status_code == 404
    r = send(client, "patch", f"{USERS}/{user.pk}", {"is_active": False})
    assert r.status_code == 404
    user.refresh_from_db()
    assert user.is_active
    with pytest.raises(PermissionDenied):
        account_actions.set_password(world.users[Role.ENTERPRISE_ADMIN], user, GOOD_PASSWORD)
    assert not can_sign_in(user.username, GOOD_PASSWORD)
    page = client.post(
        f"/accounts/users/{user.pk}/password/",
        {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD},
    )
    assert page.status_code in (403, 404)
    assert can_sign_in(user.username, world.password)


def test_employee_cannot_change_their_own_user(world):
    me = world.users[Role.EMPLOYEE]
    r = send(api_client(me), "patch", f"{USERS}/{me.pk}", {"role": "enterprise_admin"})
    assert r.status_code in (403, 404)
    me.refresh_from_db()
    assert me.role == Role.EMPLOYEE


def test_everyone_may_change_their_own_password(world):
    me = world.users[Role.EMPLOYEE]
    account_actions.set_password(me, me, GOOD_PASSWORD)
    assert can_sign_in("employee", GOOD_PASSWORD)


# --- pages -----------------------------------------------------------------------------


def test_the_user_page_refuses_to_create_a_police_admin(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.ENTERPRISE_ADMIN])
    r = client.post(
        "/accounts/users/add/",
        {
            "username": "page_user",
            "password": GOOD_PASSWORD,
            "role": "police_admin",
            "station": world.home.station.pk,
            "is_active": "on",
        },
    )
    assert r.status_code in (400, 403)
    assert not User.objects.filter(username="page_user").exists()


def test_the_user_page_refuses_another_enterprise(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.ENTERPRISE_ADMIN])
    r = client.post(
        "/accounts/users/add/",
        {
            "username": "page_user",
            "password": GOOD_PASSWORD,
            "role": "enterprise_admin",
            "enterprise": world.neighbour.enterprise.pk,
            "is_active": "on",
        },
    )
    assert r.status_code in (400, 403)
    assert not User.objects.filter(username="page_user").exists()


# --- tokens ----------------------------------------------------------------------------


def test_a_token_is_shown_once_and_stored_hashed(world):
    me = world.users[Role.POLICE_OFFICER]
    r = send(api_client(me), "post", "/api/v1/accounts/tokens", {"name": "对接"})
    assert r.status_code == 201, r.content
    key = r.json()["key"]
    assert key.startswith("ayu_")
    token = ApiToken.objects.get(pk=r.json()["id"])
    assert token.key_digest == ApiToken.hash(key)
    assert key not in json.dumps(list(ApiToken.objects.values()), default=str)
    listing = api_client(me).get("/api/v1/accounts/tokens").content.decode()
    assert key not in listing


def test_enterprise_admin_cannot_issue_a_token_for_the_police(world):
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]),
        "post",
        "/api/v1/accounts/tokens",
        {"name": "steal", "user": world.users[Role.POLICE_ADMIN].pk},
    )
    # a token is issued to oneself: the body cannot name another user
    assert r.status_code == 422, r.content
    assert r.json()["detail"][0]["loc"][-1] == "user"
    assert not ApiToken.objects.exists()


def test_security_staff_cannot_issue_a_token_for_a_colleague(world):
    r = send(
        api_client(world.users[Role.ENTERPRISE_SECURITY]),
        "post",
        "/api/v1/accounts/tokens",
        {"name": "steal", "user": world.users[Role.ENTERPRISE_ADMIN].pk},
    )
    # a token is issued to oneself: the body cannot name another user
    assert r.status_code == 422, r.content
    assert r.json()["detail"][0]["loc"][-1] == "user"
    assert not ApiToken.objects.exists()


def test_nobody_revokes_someone_else_s_token_out_of_reach(world):
    foreign = world.foreign_users[Role.ENTERPRISE_ADMIN]
    token, _ = account_actions.issue_token(foreign, foreign, "theirs")
    client = api_client(world.users[Role.ENTERPRISE_ADMIN])
    r = client.post(f"/api/v1/accounts/tokens/{token.pk}/revoke")
    assert r.status_code == 404
    token.refresh_from_db()
    assert not token.revoked


def test_the_user_page_creates_a_user_in_the_enterprise(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.ENTERPRISE_ADMIN])
    r = client.post(
        "/accounts/users/add/",
        {
            "username": "page_user",
            "password": GOOD_PASSWORD,
            "role": "enterprise_security",
            "enterprise": world.own.enterprise.pk,
            "is_active": "on",
        },
    )
    assert r.status_code == 302, r.content.decode()[-2000:]
    user = User.objects.get(username="page_user")
    assert user.enterprise_id == world.own.enterprise.pk
    assert can_sign_in("page_user", GOOD_PASSWORD)
