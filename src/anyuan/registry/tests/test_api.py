"""The registry API under bad input, as integrations and browsers use it.

Bad input — malformed JSON, wrong types, unknown references, invalid ID numbers or plates,
oversized bodies — gets a 4xx with a JSON, field-level message; no request gives a 500.
Session callers need the CSRF token; bearer tokens act as their user and stop working
when revoked or expired. Nobody can move their objects out of their own reach.
"""

import datetime as dt
import json

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from anyuan.accounts.actions import issue_token, revoke_token
from anyuan.api import api
from anyuan.core.models import AuditEntry
from anyuan.core.roles import Role
from anyuan.core.testing import make_id_number
from anyuan.registry import models as m

JSON = "application/json"
PERSON = "/api/v1/registry/person"


def api_client(user=None, **kw):
    client = Client(raise_request_exception=False, **kw)
    if user is not None:
        client.force_login(user)
    return client


def send(client, method, url, body, **kw):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return getattr(client, method)(url, data, content_type=JSON, **kw)


def assert_json_error(response, status=None):
    assert response.status_code < 500, response.content[:500]
    assert 400 <= response.status_code < 500
    if status is not None:
        assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith(JSON), response.content[:200]
    return response.json()["detail"]


def field_names(detail) -> set[str]:
    """The field each error names (its location without "body"/"query"/"payload" or indexes)."""
    names = set()
    for d in detail:
        parts = [p for p in d.get("loc", []) if isinstance(p, str)]
        parts = [p for p in parts if p not in ("body", "query", "payload")]
        if parts:
            names.add(parts[0])
    return names


def person_body(world, **extra):
    return {
        "station_id": world.home.station.pk,
        "enterprise_id": world.own.enterprise.pk,
        "name": "接口测试",
        "id_number": make_id_number(444),
        **extra,
    }


@pytest.fixture
def admin(world):
    return api_client(world.users[Role.POLICE_ADMIN])


# --- malformed requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["{bad json", "{'single': 'quotes'}", '{"name": "x",}', "\xff\xfe", "[1, 2", "nul"]
)
def test_malformed_json_is_a_400_in_json(admin, body):
    before = m.Person.objects.count()
    detail = assert_json_error(send(admin, "post", PERSON, body), 400)
    assert detail
    assert m.Person.objects.count() == before


@pytest.mark.parametrize("body", ["[]", "1", '"text"', "null", ""])
def test_a_body_that_is_not_an_object_is_refused(admin, body):
    assert_json_error(send(admin, "post", PERSON, body))


def test_wrong_types_are_named_field_by_field(admin, world):
    body = person_body(world, station_id="north", name=123, hire_date="yesterday")
    detail = assert_json_error(send(admin, "post", PERSON, body), 422)
    assert {"station_id", "name", "hire_date"} <= field_names(detail)


def test_missing_required_fields_are_named(admin):
    detail = assert_json_error(send(admin, "post", PERSON, {"kind": "visitor"}), 422)
    assert {"station_id", "name"} <= field_names(detail)


@pytest.mark.parametrize("value", ["110105194912310021", "11010519900230001X", "123", "x"])
def test_an_invalid_id_number_is_a_field_error(admin, world, value):
    before = m.Person.objects.count()
    detail = assert_json_error(
        send(admin, "post", PERSON, person_body(world, id_number=value)), 422
    )
    assert field_names(detail) == {"id_number"}
    assert detail[0]["msg"]
    assert m.Person.objects.count() == before


def test_an_invalid_phone_is_a_field_error(admin, world):
    detail = assert_json_error(send(admin, "post", PERSON, person_body(world, phone="12345")), 422)
    assert field_names(detail) == {"phone"}


@pytest.mark.parametrize("plate", ["粤I12345", "港B12345", "粤B1234", "ABCDEFG", "粤BD1234I"])
def test_an_invalid_plate_is_a_field_error(admin, world, plate):
    before = m.Vehicle.objects.count()
    r = send(
        admin,
        "post",
        "/api/v1/registry/vehicle",
        {"station_id": world.home.station.pk, "plate": plate},
    )
    assert field_names(assert_json_error(r, 422)) == {"plate"}
    assert m.Vehicle.objects.count() == before


def test_a_valid_plate_is_normalised(admin, world):
    r = send(
        admin,
        "post",
        "/api/v1/registry/vehicle",
        {"station_id": world.home.station.pk, "plate": "粤b·d12345"},
    )
    assert r.status_code == 201, r.content
    assert r.json()["plate"] == "粤BD12345"


def test_an_invalid_credit_code_is_a_field_error(admin, world):
    r = send(
        admin,
        "patch",
        f"/api/v1/registry/enterprise/{world.own.enterprise.pk}",
        {"credit_code": "91350100M000100Y44"},
    )
    assert field_names(assert_json_error(r, 422)) == {"credit_code"}


@pytest.mark.parametrize("q", ["a", "9135", "91350100M000100Y44", "ＡＢＣ", "x" * 40])
def test_an_enterprise_search_with_any_text_is_answered(admin, world, q):
    """Any text in q is a search: it matched the credit-code column exactly, which refused
    text that is no credit code with a 500."""
    r = admin.get("/api/v1/registry/enterprise", {"q": q})
    assert r.status_code == 200, r.content[:300]
    assert r.json()["items"] == []


def test_an_enterprise_is_found_by_its_credit_code_in_any_case(admin, world):
    code = world.own.enterprise.credit_code
    for q in (code, code.lower(), f" {code} "):
        r = admin.get("/api/v1/registry/enterprise", {"q": q})
        assert [e["id"] for e in r.json()["items"]] == [world.own.enterprise.pk], q


def test_a_credit_code_lookup_with_any_text_matches_nothing(world):
    """Looking a credit code up never raises (the value matches no stored, normalised
    code); writing one still refuses anything that is no credit code."""
    from django.core.exceptions import ValidationError
    from django.db import transaction

    assert not m.Enterprise.objects.filter(credit_code="a").exists()
    assert not m.LabourAgency.objects.filter(credit_code__in=["a", "9135"]).exists()
    code = world.own.enterprise.credit_code
    assert m.Enterprise.objects.get(credit_code=code.lower()) == world.own.enterprise
    world.own.enterprise.credit_code = "not a code"
    with pytest.raises(ValidationError), transaction.atomic():
        world.own.enterprise.save()
    with pytest.raises(ValidationError), transaction.atomic():
        m.Enterprise.objects.filter(pk=world.own.enterprise.pk).update(credit_code="x")
    world.own.enterprise.credit_code = code.lower()  # bulk_update writes an expression
    m.Enterprise.objects.bulk_update([world.own.enterprise], ["credit_code"])
    assert m.Enterprise.objects.filter(credit_code=code).exists()


def test_an_informant_is_created_and_changed_through_the_api(admin, world):
    """The informant's person is a one-to-one field: it was handed to the model as a bare
    id, and creating or changing an informant through the API answered 500."""
    # a worker without a sign-in (an employee sign-in must first become an informant
    # account: registry.Informant.clean)
    person = m.Person.objects.create(
        station=world.home.station, enterprise=world.own.enterprise, name="信息员甲"
    )
    r = send(
        admin,
        "post",
        "/api/v1/registry/informant",
        {"person_id": person.pk, "workshop_id": world.own.zone.pk, "team": "甲班"},
    )
    assert r.status_code == 201, r.content[:500]
    informant = m.Informant.objects.get(pk=r.json()["id"])
    assert (informant.person, informant.workshop, informant.team) == (
        person,
        world.own.zone,
        "甲班",
    )
    assert r.json()["person"] == person.pk
    assert AuditEntry.objects.filter(action="create", object_id=str(informant.pk)).exists()

    other = m.Person.objects.create(
        station=world.home.station, enterprise=world.own.enterprise, name="新信息员"
    )
    r = send(
        admin,
        "patch",
        f"/api/v1/registry/informant/{informant.pk}",
        {"person_id": other.pk, "team": "乙班"},
    )
    assert r.status_code == 200, r.content[:500]
    informant.refresh_from_db()
    assert (informant.person, informant.team) == (other, "乙班")


def test_a_person_is_an_informant_once(admin, world):
    taken = world.own.informant.person
    before = m.Informant.objects.count()
    r = send(admin, "post", "/api/v1/registry/informant", {"person_id": taken.pk})
    assert "person" in field_names(assert_json_error(r, 422))
    r = send(
        admin,
        "patch",
        f"/api/v1/registry/informant/{world.neighbour.informant.pk}",
        {"person_id": taken.pk},
    )
    assert "person" in field_names(assert_json_error(r, 422))
    assert m.Informant.objects.count() == before
    world.neighbour.informant.refresh_from_db()
    assert world.neighbour.informant.person == world.neighbour.colleague


def test_an_oversized_body_is_refused_in_json(admin, world):
    big = json.dumps(person_body(world, note="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)))
    before = m.Person.objects.count()
    r = send(admin, "post", PERSON, big)
    assert r.status_code in (400, 413)
    assert r["Content-Type"].startswith(JSON)
    assert "detail" in r.json()
    assert m.Person.objects.count() == before


def test_a_body_just_under_the_limit_is_read(admin, world):
    r = send(admin, "post", PERSON, person_body(world, note="x" * 100_000))
    assert r.status_code == 201, r.content[:300]


def test_nul_characters_are_a_field_error(admin, world):
    r = send(admin, "post", PERSON, person_body(world, name="a\x00b"))
    assert field_names(assert_json_error(r, 422)) == {"name"}
    r = admin.get(PERSON, {"q": "a\x00b"})
    assert "q" in field_names(assert_json_error(r, 422))


@pytest.mark.parametrize("param", ["offset", "limit"])
def test_absurd_pagination_is_refused_not_a_crash(admin, param):
    r = admin.get(PERSON, {param: str(2**70)})
    assert_json_error(r, 422)
    assert admin.get(PERSON, {param: "-1"}).status_code == 422
    assert admin.get(PERSON, {"offset": "1000000", "limit": "10"}).json()["items"] == []


def test_out_of_range_filter_ids_are_refused_not_a_crash(admin):
    for value in (str(2**63), str(2**70), "-" + str(2**70)):
        r = admin.get(PERSON, {"enterprise": value})
        assert "enterprise" in field_names(assert_json_error(r, 422))
    r = admin.get("/api/v1/audit/entries", {"actor": str(2**64)})
    assert_json_error(r, 422)


def test_an_out_of_range_object_id_is_a_404(admin):
    assert_json_error(admin.get(f"{PERSON}/{2**70}"), 404)
    assert_json_error(send(admin, "patch", f"{PERSON}/{2**70}", {"name": "x"}), 404)


def test_nonsense_in_a_to_many_list_is_a_field_error(admin, world):
    url = f"/api/v1/registry/zone/{world.own.zone.pk}"
    for value in (None, [None], [{}], ["x"], [1.5], 5, "1,2"):
        r = send(admin, "patch", url, {"required_qualifications": value})
        assert "required_qualifications" in field_names(assert_json_error(r, 422)), value
    assert list(world.own.zone.required_qualifications.all()) == []


def test_an_unknown_choice_is_a_field_error(admin, world):
    url = f"/api/v1/registry/zone/{world.own.zone.pk}"
    r = send(admin, "patch", url, {"ring": "galaxy", "parent_id": world.home.shared_zone.pk})
    assert "ring" in field_names(assert_json_error(r, 422))


# --- unknown references ----------------------------------------------------------------


def unknown_references(world):
    """(body field, reference) pairs pointing outside the police admin's station, or nowhere."""
    return [
        ("station_id", world.foreign_station.station.pk),
        ("enterprise_id", world.foreign.enterprise.pk),
        ("labour_agency_id", world.foreign_station.agency.pk),
        ("home_zone_id", world.foreign.zone.pk),
        ("enterprise_id", 999_999),
        ("home_zone_id", 2**63 - 1),
        ("station_id", 2**63),
        ("station_id", 2**80),
        ("station_id", 0),
        ("station_id", -1),
    ]


def test_unknown_references_are_named_and_nothing_is_created(admin, world):
    for field, value in unknown_references(world):
        before = (m.Person.objects.count(), AuditEntry.objects.count())
        r = send(admin, "post", PERSON, person_body(world, **{field: value}))
        detail = assert_json_error(r, 422)
        named = field_names(detail)
        assert field.removesuffix("_id") in named or field in named, (field, value, detail)
        assert (m.Person.objects.count(), AuditEntry.objects.count()) == before


def test_unknown_references_in_a_patch_change_nothing(world):
    admin = api_client(world.users[Role.ENTERPRISE_ADMIN])
    person = world.own.person
    for field, value in [
        ("enterprise_id", world.neighbour.enterprise.pk),
        ("enterprise_id", world.foreign.enterprise.pk),
        ("home_zone_id", world.neighbour.zone.pk),
        ("station_id", world.foreign_station.station.pk),
        ("home_zone_id", 2**70),
    ]:
        r = send(admin, "patch", f"{PERSON}/{person.pk}", {field: value, "note": "changed"})
        assert field.removesuffix("_id") in field_names(assert_json_error(r, 422))
    fresh = m.Person.objects.get(pk=person.pk)
    assert (fresh.enterprise_id, fresh.station_id, fresh.note, fresh.home_zone_id) == (
        world.own.enterprise.pk,
        world.home.station.pk,
        "",
        None,
    )
    assert not AuditEntry.objects.exists()


def test_unknown_references_in_a_to_many_list_are_named(world):
    admin = api_client(world.users[Role.ENTERPRISE_ADMIN])
    r = send(
        admin,
        "post",
        "/api/v1/registry/accessgroup",
        {
            "station_id": world.home.station.pk,
            "enterprise_id": world.own.enterprise.pk,
            "name": "夜班",
            "members": [world.own.person.pk, world.neighbour.person.pk],
        },
    )
    assert field_names(assert_json_error(r, 422)) == {"members"}
    assert not m.AccessGroup.objects.filter(name="夜班").exists()


# --- CSRF and bearer tokens ------------------------------------------------------------


def test_a_session_post_without_the_csrf_token_is_refused(world):
    client = api_client(world.users[Role.POLICE_ADMIN], enforce_csrf_checks=True)
    before = m.Person.objects.count()
    r = send(client, "post", PERSON, person_body(world))
    assert r.status_code == 403
    r = send(client, "patch", f"{PERSON}/{world.own.person.pk}", {"note": "csrf"})
    assert r.status_code == 403
    assert m.Person.objects.count() == before
    assert m.Person.objects.get(pk=world.own.person.pk).note == ""


def test_a_session_post_with_the_csrf_token_is_accepted(world):
    client = api_client(world.users[Role.POLICE_ADMIN], enforce_csrf_checks=True)
    client.get("/accounts/profile/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    r = send(client, "post", PERSON, person_body(world), HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201, r.content


def test_reads_need_no_csrf_token(world):
    client = api_client(world.users[Role.POLICE_ADMIN], enforce_csrf_checks=True)
    assert client.get(PERSON).status_code == 200


def test_anonymous_requests_are_401(world):
    client = api_client()
    assert client.get(PERSON).status_code == 401
    assert send(client, "post", PERSON, person_body(world)).status_code == 401


def bearer(key):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_a_bearer_token_acts_as_its_user_without_csrf(world):
    user = world.users[Role.ENTERPRISE_ADMIN]
    token, key = issue_token(user, user, "integration")
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    r = client.get("/api/v1/accounts/me", **bearer(key))
    assert r.status_code == 200
    assert r.json()["username"] == "enterprise_admin"

    names = {p["name"] for p in client.get(PERSON, **bearer(key)).json()["items"]}
    assert world.own.person.name in names
    assert world.neighbour.person.name not in names
    assert world.foreign.person.name not in names
    assert client.get(f"{PERSON}/{world.neighbour.person.pk}", **bearer(key)).status_code == 404

    r = send(client, "post", PERSON, person_body(world), **bearer(key))
    assert r.status_code == 201, r.content
    assert AuditEntry.objects.get(object_id=str(r.json()["id"])).actor == user
    token.refresh_from_db()
    assert token.last_used is not None


def test_a_bearer_token_cannot_do_more_than_its_user(world):
    user = world.users[Role.ENTERPRISE_SECURITY]
    _, key = issue_token(user, user, "gate")
    client = api_client()
    r = send(
        client,
        "post",
        f"{PERSON}/{world.own.person.pk}/reveal",
        {"field": "id_number", "reason": "token test"},
        **bearer(key),
    )
    assert r.status_code in (403, 404)
    assert client.get("/api/v1/audit/entries", **bearer(key)).json()["items"] == []


@pytest.mark.parametrize("state", ["revoked", "expired", "inactive user", "garbage", "empty"])
def test_revoked_expired_or_bad_tokens_are_401(world, state):
    user = world.users[Role.POLICE_OFFICER]
    token, key = issue_token(user, user, "old")
    if state == "revoked":
        revoke_token(user, token)
    elif state == "expired":
        token.expires = timezone.now() - dt.timedelta(seconds=1)
        token.save(update_fields=["expires"])
    elif state == "inactive user":
        user.is_active = False
        user.save(update_fields=["is_active"])
    elif state == "garbage":
        key = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    else:
        key = ""
    client = api_client()
    assert client.get(PERSON, **bearer(key)).status_code == 401
    r = send(client, "post", PERSON, person_body(world), **bearer(key))
    assert r.status_code == 401
    assert not m.Person.objects.filter(name="接口测试").exists()


def test_a_token_that_expires_later_still_works(world):
    user = world.users[Role.POLICE_OFFICER]
    _, key = issue_token(user, user, "soon", timezone.now() + dt.timedelta(hours=1))
    assert api_client().get(PERSON, **bearer(key)).status_code == 200


# --- escalation through the registry ----------------------------------------------------


def test_enterprise_admin_cannot_move_their_person_to_another_enterprise(world):
    client = api_client(world.users[Role.ENTERPRISE_ADMIN])
    person = world.own.person
    for body in (
        {"enterprise_id": world.neighbour.enterprise.pk},
        {"enterprise_id": None, "kind": "resident"},
        {"station_id": world.foreign_station.station.pk},
    ):
        r = send(client, "patch", f"{PERSON}/{person.pk}", body)
        assert r.status_code in (403, 422), (body, r.content)
    fresh = m.Person.objects.get(pk=person.pk)
    assert fresh.enterprise_id == world.own.enterprise.pk
    assert fresh.station_id == world.home.station.pk
    assert fresh.kind == person.kind


def test_enterprise_admin_cannot_move_their_zone_to_another_enterprise_or_the_park(world):
    client = api_client(world.users[Role.ENTERPRISE_ADMIN])
    zone = world.own.zone
    for body in (
        {"enterprise_id": world.neighbour.enterprise.pk},
        {"enterprise_id": world.foreign.enterprise.pk},
        {"enterprise_id": None},
        {"park_id": world.foreign_station.park.pk},
        {"parent_id": world.neighbour.zone.pk},
    ):
        r = send(client, "patch", f"/api/v1/registry/zone/{zone.pk}", body)
        assert r.status_code in (403, 422), (body, r.content)
    fresh = m.Zone.objects.get(pk=zone.pk)
    assert (fresh.enterprise_id, fresh.park_id, fresh.parent_id) == (
        world.own.enterprise.pk,
        world.home.park.pk,
        None,
    )


def test_enterprise_admin_cannot_create_into_another_enterprise(world):
    client = api_client(world.users[Role.ENTERPRISE_ADMIN])
    before = m.Person.objects.count()
    r = send(
        client,
        "post",
        PERSON,
        person_body(world, enterprise_id=world.neighbour.enterprise.pk),
    )
    assert r.status_code in (403, 422)
    r = send(client, "post", PERSON, person_body(world, enterprise_id=None, kind="resident"))
    assert r.status_code in (403, 422)
    assert m.Person.objects.count() == before


@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.INFORMANT])
def test_personal_roles_cannot_change_their_own_person_record(world, role):
    user = world.users[role]
    client = api_client(user)
    pk = user.person_id
    name = m.Person.objects.get(pk=pk).name
    assert client.get(f"{PERSON}/{pk}").status_code == 200  # they may look
    for body in ({"name": "改名"}, {"enterprise_id": world.neighbour.enterprise.pk}, {}):
        r = send(client, "patch", f"{PERSON}/{pk}", body)
        assert r.status_code in (403, 404), r.content
    assert client.delete(f"{PERSON}/{pk}").status_code in (403, 404)
    r = send(client, "post", f"{PERSON}/{pk}/reveal", {"field": "id_number", "reason": "mine"})
    assert r.status_code in (403, 404)
    assert m.Person.objects.get(pk=pk).name == name
    assert not AuditEntry.objects.exists()


def test_employee_cannot_create_people_or_vehicles(world):
    client = api_client(world.users[Role.EMPLOYEE])
    assert send(client, "post", PERSON, person_body(world)).status_code == 403
    r = send(
        client,
        "post",
        "/api/v1/registry/vehicle",
        {"station_id": world.home.station.pk, "plate": "浙B99999", "owner_id": world.own.person.pk},
    )
    assert r.status_code == 403
    assert not AuditEntry.objects.exists()


# --- fuzz: random JSON bodies never give a 500 ----------------------------------------

SCHEMA = api.get_openapi_schema()

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 2**31, 2**63, 2**80])
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "\x00", "2024-02-30", "25:00", "11010519491231002X", "粤B12345"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
strings = st.sampled_from(
    [
        "",
        "11010519491231002X",
        "13912345678",
        "粤BD12345",
        "91350100M000100Y43",
        "2026-02-29",
        "12:00",
        "1234567",
        "employee",
        "visitor",
        "temporary",
        "plate",
        "person",
        "production",
        "core",
        "park",
        "workshop",
        "alarm",
        "ebike",
    ]
)


def typed(prop):
    """Values of the property's type, mostly plausible, sometimes junk."""
    kinds = {alt.get("type") for alt in prop.get("anyOf", [prop])}
    options = [junk]
    if "integer" in kinds:
        options += [st.integers(1, 60)] * 3
    if "string" in kinds:
        options += [strings, strings, st.text(max_size=12)]
    if "boolean" in kinds:
        options.append(st.booleans())
    if "array" in kinds:
        options += [st.lists(st.integers(1, 60), max_size=3)] * 2
    if "null" in kinds:
        options.append(st.none())
    return st.one_of(*options)


def bodies(schema_name):
    props = SCHEMA["components"]["schemas"][schema_name]["properties"]
    return (
        st.fixed_dictionaries(
            {}, optional={name: typed(p) for name, p in props.items()} | {"extra": junk}
        )
        | junk
    )


FUZZ = [
    (Role.POLICE_ADMIN, "post", lambda w: PERSON, "PersonCreate"),
    (Role.POLICE_ADMIN, "patch", lambda w: f"{PERSON}/{w.own.person.pk}", "PersonPatch"),
    (Role.ENTERPRISE_ADMIN, "patch", lambda w: f"{PERSON}/{w.own.person.pk}", "PersonPatch"),
    (Role.POLICE_ADMIN, "post", lambda w: "/api/v1/registry/zone", "ZoneCreate"),
    (
        Role.ENTERPRISE_ADMIN,
        "patch",
        lambda w: f"/api/v1/registry/zone/{w.own.zone.pk}",
        "ZonePatch",
    ),
    (Role.POLICE_ADMIN, "post", lambda w: "/api/v1/registry/vehicle", "VehicleCreate"),
    (Role.POLICE_ADMIN, "post", lambda w: "/api/v1/registry/authorisation", "AuthorisationCreate"),
    (
        Role.POLICE_ADMIN,
        "post",
        lambda w: "/api/v1/registry/watchlistentry",
        "WatchlistEntryCreate",
    ),
    (Role.POLICE_ADMIN, "post", lambda w: "/api/v1/registry/policegrid", "PoliceGridCreate"),
    (Role.ENTERPRISE_ADMIN, "post", lambda w: "/api/v1/accounts/users", "UserCreate"),
    (Role.POLICE_ADMIN, "post", lambda w: f"{PERSON}/{w.own.person.pk}/reveal", "RevealIn"),
]


@pytest.mark.parametrize(
    ("role", "method", "url", "schema"), FUZZ, ids=[f"{f[1]} {f[3]} as {f[0]}" for f in FUZZ]
)
def test_random_bodies_never_give_a_server_error(world, role, method, url, schema):
    client = api_client(world.users[role])
    target = url(world)

    @hypothesis_settings(
        max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(bodies(schema))
    def check(body):
        r = send(client, method, target, body)
        assert r.status_code < 500, (body, r.content[:300])
        assert r["Content-Type"].startswith(JSON), (body, r.status_code)

    check()


QUERY_KEYS = ["q", "kind", "enterprise", "labour_agency", "card_number", "limit", "offset"]


def test_random_list_queries_never_give_a_server_error(world):
    client = api_client(world.users[Role.ENTERPRISE_ADMIN])

    @hypothesis_settings(
        max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(
        st.dictionaries(
            st.sampled_from(QUERY_KEYS),
            st.one_of(
                st.text(max_size=10),
                st.integers().map(str),
                st.sampled_from(["\x00", str(2**63), "-1", "1e9", "true", "11010519491231002X"]),
            ),
            max_size=4,
        )
    )
    def check(query):
        r = client.get(PERSON, query)
        assert r.status_code < 500, (query, r.content[:300])
        assert r.status_code in (200, 422), (query, r.status_code)

    check()
