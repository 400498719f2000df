"""Who manages whose account (core.roles.MANAGED_BY), tried as an attacker: an enterprise
administrator goes after the accounts of the police, of an informant of its own enterprise
and of a mediation partner by every route the API and the pages offer — seeing them,
creating them, changing them, moving a colleague into their roles, resetting their
passwords, issuing or revoking their tokens — and gets nowhere; the police can."""

import json

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import translation

from anyuan.accounts import actions as account_actions
from anyuan.accounts.models import ApiToken, User
from anyuan.core.models import AuditEntry
from anyuan.core.roles import MANAGED_BY, Role, managed_roles
from anyuan.core.testing import make_id_number
from anyuan.disputes import actions as dispute_actions
from anyuan.disputes.tests.helpers import make_case
from anyuan.registry.models import Informant, Person

USERS = "/api/v1/accounts/users"
TOKENS = "/api/v1/accounts/tokens"
GOOD_PASSWORD = "Zhong-guo-2026-anyuan"

POLICE_ONLY = [Role.INFORMANT, Role.PARTNER, Role.POLICE_ADMIN, Role.POLICE_OFFICER]


def client_for(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def send(client, method, url, body):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def can_sign_in(username, password) -> bool:
    r = Client().post("/accounts/login/", {"username": username, "password": password})
    return r.status_code == 302


def new_worker(world, name="OWN 新员工", n=71):
    return Person.objects.create(
        station=world.home.station,
        enterprise=world.own.enterprise,
        name=name,
        id_number=make_id_number(n),
    )


def place_for(world, role, person=None):
    """The place a new account of ``role`` would have in the attacker's own enterprise."""
    if role in (Role.INFORMANT, Role.EMPLOYEE):
        return {"person_id": (person or new_worker(world)).pk}
    if role in (Role.POLICE_ADMIN, Role.POLICE_OFFICER, Role.PARTNER):
        return {"station_id": world.home.station.pk}
    return {"enterprise_id": world.own.enterprise.pk}


def state(user):
    user.refresh_from_db()
    return (user.role, user.is_active, user.password, user.enterprise_id, user.station_id)


# --- the declaration ---------------------------------------------------------------------


def test_every_role_declares_who_manages_it():
    assert set(MANAGED_BY) == set(Role)
    enterprise_admin = type("U", (), {"role": Role.ENTERPRISE_ADMIN, "is_superuser": False})()
    assert managed_roles(enterprise_admin) == {
        Role.ENTERPRISE_ADMIN,
        Role.ENTERPRISE_SECURITY,
        Role.EMPLOYEE,
    }
    for role in (Role.INFORMANT, Role.PARTNER, Role.POLICE_ADMIN, Role.POLICE_OFFICER):
        assert MANAGED_BY[role] == {Role.POLICE_ADMIN}, role


# --- seeing ------------------------------------------------------------------------------


def test_the_user_list_answers_and_hides_accounts_the_role_does_not_manage(world):
    r = client_for(world.users[Role.ENTERPRISE_ADMIN]).get(USERS)
    assert r.status_code == 200, r.content  # it always answered 422
    names = {u["username"] for u in r.json()["items"]}
    assert names == {"enterprise_admin", "enterprise_security", "employee"}
    # the police admin sees every account of the station, informants and partners included
    r = client_for(world.users[Role.POLICE_ADMIN]).get(USERS, {"role": "informant"})
    assert r.status_code == 200, r.content
    assert [u["username"] for u in r.json()["items"]] == ["informant"]
    r = client_for(world.users[Role.POLICE_ADMIN]).get(USERS, {"q": "partn"})
    assert [u["username"] for u in r.json()["items"]] == ["partner"]


def test_a_made_up_role_filter_is_a_field_error(world):
    r = client_for(world.users[Role.POLICE_ADMIN]).get(USERS, {"role": "superuser"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "role"


def test_the_user_page_lists_no_informant_or_partner_to_the_enterprise(world):
    page = client_for(world.users[Role.ENTERPRISE_ADMIN]).get("/accounts/users/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/accounts/users/{world.users[Role.ENTERPRISE_SECURITY].pk}/" in html
    for role in POLICE_ONLY:
        assert f"/accounts/users/{world.users[role].pk}/" not in html, role


# --- acting on an account ----------------------------------------------------------------


@pytest.mark.parametrize("role", POLICE_ONLY)
def test_enterprise_admin_cannot_reach_a_police_managed_account(world, role):
    attacker = world.users[Role.ENTERPRISE_ADMIN]
    target = world.users[role]
    before = state(target)
    audit = AuditEntry.objects.count()
    api = client_for(attacker)

    assert api.get(f"{USERS}/{target.pk}").status_code == 404
    for body in (
        {"is_active": False},
        {"role": "enterprise_security", "enterprise_id": world.own.enterprise.pk},
        {"first_name": "改名"},
    ):
        assert send(api, "patch", f"{USERS}/{target.pk}", body).status_code == 404, body

    # password reset: action, page
    with pytest.raises(PermissionDenied):
        account_actions.set_password(attacker, target, GOOD_PASSWORD)
    page = api.post(
        f"/accounts/users/{target.pk}/password/",
        {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD},
    )
    assert page.status_code == 404
    assert api.get(f"/accounts/users/{target.pk}/").status_code == 404
    assert api.get(f"/accounts/users/{target.pk}/edit/").status_code == 404
    edit = api.post(
        f"/accounts/users/{target.pk}/edit/",
        {"username": target.username, "role": "enterprise_security", "is_active": ""},
    )
    assert edit.status_code == 404

    # a token acting as them: the API's body cannot name them, the action refuses
    r = send(api, "post", TOKENS, {"name": "steal", "user": target.pk})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "user"
    with pytest.raises(PermissionDenied):
        account_actions.issue_token(attacker, target, "steal")
    assert not ApiToken.objects.filter(user=target).exists()

    # their own token: not listed, not revocable
    token, _key = account_actions.issue_token(target, target, "theirs")
    listing = api.get(TOKENS).json()
    assert token.pk not in {t["id"] for t in listing}
    assert api.post(f"{TOKENS}/{token.pk}/revoke").status_code == 404
    assert api.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    with pytest.raises(PermissionDenied):
        account_actions.revoke_token(attacker, token)
    token.refresh_from_db()
    assert not token.revoked

    assert state(target) == before
    assert can_sign_in(target.username, world.password)
    assert not can_sign_in(target.username, GOOD_PASSWORD)
    # nothing but the target's own token issue was recorded
    assert AuditEntry.objects.count() == audit + 1


# --- creating an account, or moving one into a role ------------------------------------


@pytest.mark.parametrize("role", POLICE_ONLY)
def test_enterprise_admin_cannot_create_a_police_managed_account(world, role):
    attacker = world.users[Role.ENTERPRISE_ADMIN]
    body = {"username": "new_user", "password": GOOD_PASSWORD, "role": role}
    body |= place_for(world, role)
    before = (User.objects.count(), AuditEntry.objects.count())
    r = send(client_for(attacker), "post", USERS, body)
    assert r.status_code == 422, r.content
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["body", "role"]
    with translation.override(settings.LANGUAGE_CODE):  # names the roles one may give
        assert str(Role.ENTERPRISE_SECURITY.label) in detail[0]["msg"]
        assert str(Role(role).label) not in detail[0]["msg"]
    # the same with the enterprise as the place (a partner "of the enterprise")
    body |= {"enterprise_id": world.own.enterprise.pk}
    assert send(client_for(attacker), "post", USERS, body).status_code == 422
    assert (User.objects.count(), AuditEntry.objects.count()) == before
    assert not can_sign_in("new_user", GOOD_PASSWORD)


@pytest.mark.parametrize("role", POLICE_ONLY)
def test_the_user_page_refuses_police_managed_roles_and_does_not_offer_them(world, role):
    client = client_for(world.users[Role.ENTERPRISE_ADMIN])
    form = client.get("/accounts/users/add/")
    assert form.status_code == 200
    choices = form.context["form"].fields["role"].choices
    assert [v for v, _label in choices if v] == [
        Role.ENTERPRISE_ADMIN,
        Role.ENTERPRISE_SECURITY,
        Role.EMPLOYEE,
    ]
    place = {k.removesuffix("_id"): v for k, v in place_for(world, role).items()}
    r = client.post(
        "/accounts/users/add/",
        {"username": "page_user", "password": GOOD_PASSWORD, "role": role, **place},
    )
    assert r.status_code == 400
    assert r.context["form"].errors["role"]
    assert not User.objects.filter(username="page_user").exists()


@pytest.mark.parametrize("role", POLICE_ONLY)
def test_enterprise_admin_cannot_move_a_colleague_into_a_police_managed_role(world, role):
    attacker = world.users[Role.ENTERPRISE_ADMIN]
    colleague = world.users[Role.ENTERPRISE_SECURITY]
    before = state(colleague)
    body = {"role": role, **place_for(world, role)}
    r = send(client_for(attacker), "patch", f"{USERS}/{colleague.pk}", body)
    assert r.status_code == 422, r.content
    assert r.json()["detail"][0]["loc"] == ["body", "role"]
    place = {k.removesuffix("_id"): v for k, v in body.items() if k != "role"}
    page = client_for(attacker).post(
        f"/accounts/users/{colleague.pk}/edit/",
        {"username": colleague.username, "role": role, "is_active": "on", **place},
    )
    assert page.status_code == 400
    # and through the generic action too (the scope holds after the change)
    with pytest.raises((PermissionDenied, account_actions.actions.ValidationFailed)):
        account_actions.actions.update(attacker, colleague, {"role": role, **place})
    assert state(colleague) == before


def test_enterprise_admin_cannot_make_a_sign_in_for_its_informant(world):
    """An employee account linked to the informant's person would follow what the
    informant reported; the enterprise knows its informants (the registry), so refusing
    tells it nothing new."""
    attacker = world.users[Role.ENTERPRISE_ADMIN]
    informant_person = world.own.informant.person
    r = send(
        client_for(attacker),
        "post",
        USERS,
        {
            "username": "new_user",
            "password": GOOD_PASSWORD,
            "role": "employee",
            "person_id": informant_person.pk,
        },
    )
    assert r.status_code == 422, r.content
    assert not User.objects.filter(username="new_user").exists()
    employee = world.users[Role.EMPLOYEE]
    r = send(
        client_for(attacker), "patch", f"{USERS}/{employee.pk}", {"person_id": informant_person.pk}
    )
    assert r.status_code == 422, r.content
    employee.refresh_from_db()
    assert employee.person_id == world.own.person.pk


def test_a_worker_with_an_employee_sign_in_becomes_an_informant_only_through_the_police(world):
    """The other order: a worker the enterprise gave an employee sign-in is made an
    informant. The registry refuses until the police turn that sign-in into an informant
    account, which the employer can then no longer reset or use."""
    from anyuan.core import actions as core_actions

    enterprise_admin = world.users[Role.ENTERPRISE_ADMIN]
    police = world.users[Role.POLICE_ADMIN]
    worker = new_worker(world)
    login = account_actions.create_user(
        enterprise_admin,
        {"username": "worker_login", "role": Role.EMPLOYEE, "person": worker},
        GOOD_PASSWORD,
    )
    for actor in (enterprise_admin, police):
        with pytest.raises(core_actions.ValidationFailed) as e:
            core_actions.create(actor, Informant, {"person": worker})
        assert "person" in e.value.errors
    assert not Informant.objects.filter(person=worker).exists()
    account_actions.update_user(police, login, {"role": Role.INFORMANT})
    core_actions.create(police, Informant, {"person": worker})
    assert not User.objects.restrict(enterprise_admin, "change").filter(pk=login.pk).exists()
    with pytest.raises(PermissionDenied):
        account_actions.set_password(enterprise_admin, login, "another-long-passphrase-2026")


# --- the police --------------------------------------------------------------------------


def test_the_police_create_informant_and_partner_accounts(world):
    police = client_for(world.users[Role.POLICE_ADMIN])
    worker = new_worker(world)
    Informant.objects.create(person=worker)
    r = send(
        police,
        "post",
        USERS,
        {"username": "xinxiyuan", "password": GOOD_PASSWORD, "role": "informant",
         "person_id": worker.pk},
    )  # fmt: skip
    assert r.status_code == 201, r.content
    r = send(
        police,
        "post",
        USERS,
        {"username": "tiaojie", "password": GOOD_PASSWORD, "role": "partner",
         "station_id": world.home.station.pk},
    )  # fmt: skip
    assert r.status_code == 201, r.content
    assert can_sign_in("tiaojie", GOOD_PASSWORD)
    # a partner is the station's, never an enterprise's
    r = send(
        police,
        "post",
        USERS,
        {"username": "tiaojie2", "password": GOOD_PASSWORD, "role": "partner",
         "station_id": world.home.station.pk, "enterprise_id": world.own.enterprise.pk},
    )  # fmt: skip
    assert r.status_code == 422, r.content
    assert not User.objects.filter(username="tiaojie2").exists()


def test_only_police_partners_are_offered_for_tier_3(world):
    """A partner account tied to an enterprise (made before enterprises lost the power to
    create partners) is neither offered nor accepted for an invitation."""
    police_partner = world.users[Role.PARTNER]
    planted = User(
        username="labour_bureau_official",
        first_name="劳动局 王科长",
        role=Role.PARTNER,
        station=world.home.station,
    )
    planted.set_password(world.password)
    planted.save()  # no clean(): the row as an enterprise admin could make it before
    User.objects.filter(pk=planted.pk).update(enterprise=world.own.enterprise)
    case = make_case(world, state="escalated", tier=3)
    offered = set(dispute_actions.partner_candidates(case).values_list("pk", flat=True))
    assert police_partner.pk in offered
    assert planted.pk not in offered
    page = client_for(world.users[Role.POLICE_OFFICER]).get(
        reverse("disputes:case-detail", args=[case.pk])
    )
    assert page.status_code == 200
    assert "王科长" not in page.content.decode()
    r = send(
        client_for(world.users[Role.POLICE_OFFICER]),
        "post",
        f"/api/v1/disputes/cases/{case.pk}/invite",
        {"partner": planted.pk},
    )
    assert r.status_code == 422, r.content
    assert not case.partners.exists()


# --- the roles, listed -------------------------------------------------------------------


def test_the_api_lists_the_roles_and_which_one_may_give(world):
    r = client_for(world.users[Role.ENTERPRISE_ADMIN]).get("/api/v1/accounts/roles")
    assert r.status_code == 200
    roles = {row["value"]: row for row in r.json()}
    assert set(roles) == set(Role.values)
    assert all(row["label"] for row in roles.values())
    assert {v for v, row in roles.items() if row["assignable"]} == {
        "enterprise_admin",
        "enterprise_security",
        "employee",
    }


def test_the_schema_declares_the_roles(world):
    schema = client_for(world.users[Role.POLICE_ADMIN]).get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]
    create = components["UserCreate"]["properties"]["role"]
    ref = create.get("$ref") or create.get("allOf", [{}])[0].get("$ref")
    enum = components[ref.rsplit("/", 1)[-1]]["enum"] if ref else create["enum"]
    assert set(enum) == set(Role.values)
    assert "role" in components["UserCreate"]["required"]


@pytest.mark.parametrize("role", [None, ""])
def test_taking_the_role_away_is_a_field_error(world, role):
    colleague = world.users[Role.ENTERPRISE_SECURITY]
    r = send(client_for(world.users[Role.ENTERPRISE_ADMIN]), "patch", f"{USERS}/{colleague.pk}",
             {"role": role})  # fmt: skip
    assert r.status_code == 422, r.content
    assert r.json()["detail"][0]["loc"][-1] == "role"
    colleague.refresh_from_db()
    assert colleague.role == Role.ENTERPRISE_SECURITY
