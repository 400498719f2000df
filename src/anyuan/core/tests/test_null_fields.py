"""A null in a field the API's schema declares nullable is stored (as empty text, for text
a user may leave empty) or refused with a message on that field; it never reaches the
database's NOT NULL constraint, and no answer names a constraint."""

import json

import pytest
from django.db import IntegrityError
from django.test import Client

from anyuan.api import api
from anyuan.core import actions
from anyuan.core.roles import Role
from anyuan.core.testing import make_id_number
from anyuan.registry import models as m

JSON = "application/json"
LEAKS = ("constraint", "NOT NULL", "not-null", "IntegrityError", "registry_", "accounts_")


def client_for(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def send(client, method, url, body):
    return getattr(client, method)(url, json.dumps(body), content_type=JSON)


def assert_refused_on(response, field):
    assert response.status_code == 422, response.content[:500]
    text = response.content.decode("unicode_escape")
    assert not any(leak in text for leak in LEAKS), text
    detail = response.json()["detail"]
    for error in detail:
        assert field.removesuffix("_id") in error["loc"] or field in error["loc"], error


def test_a_null_colour_is_stored_as_empty(world):
    admin = client_for(world.users[Role.POLICE_ADMIN])
    body = {"station_id": world.home.station.pk, "plate": "粤BD12399", "colour": None}
    r = send(admin, "post", "/api/v1/registry/vehicle", body)
    assert r.status_code == 201, r.content
    assert m.Vehicle.objects.get(pk=r.json()["id"]).colour == ""


@pytest.mark.parametrize("field", ["card_number", "employee_number"])
def test_a_null_in_a_person_number_is_stored_as_empty(world, field):
    admin = client_for(world.users[Role.POLICE_ADMIN])
    body = {
        "station_id": world.home.station.pk,
        "enterprise_id": world.own.enterprise.pk,
        "name": "空号测试",
        "id_number": make_id_number(445),
        field: None,
    }
    r = send(admin, "post", "/api/v1/registry/person", body)
    assert r.status_code == 201, r.content
    assert getattr(m.Person.objects.get(pk=r.json()["id"]), field) == ""


def _patch_routes():
    """(list path, PATCH path, nullable property names) of every model's partial update."""
    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        op = operations.get("patch")
        if op is None or not path.endswith("/{pk}"):
            continue
        ref = op["requestBody"]["content"][JSON]["schema"]["$ref"]
        props = components[ref.rsplit("/", 1)[-1]]["properties"]
        nullable = sorted(
            name
            for name, spec in props.items()
            if any(option.get("type") == "null" for option in spec.get("anyOf", []))
        )
        yield path[: -len("/{pk}")], path, nullable


PATCH_ROUTES = list(_patch_routes())


def test_every_model_patch_is_covered():
    paths = {list_path for list_path, _, _ in PATCH_ROUTES}
    assert {
        "/api/v1/registry/vehicle",
        "/api/v1/registry/person",
        "/api/v1/accounts/users",
    } <= paths


@pytest.mark.parametrize(
    ("list_path", "patch_path", "nullable"), PATCH_ROUTES, ids=[p for p, _, _ in PATCH_ROUTES]
)
def test_null_in_every_nullable_field_is_stored_or_refused_on_that_field(
    world, list_path, patch_path, nullable
):
    # the site's operator: every model, including reference data no role may change
    root = world.users[Role.POLICE_ADMIN]
    root.is_superuser = True
    root.save(update_fields=["is_superuser"])
    admin = client_for(root)
    listed = admin.get(list_path)
    assert listed.status_code == 200, listed.content[:300]
    items = listed.json()
    items = items.get("items", items) if isinstance(items, dict) else items
    assert items, f"the test world has nothing at {list_path}"
    pk = items[0]["id"]
    assert nullable
    for field in nullable:
        r = send(admin, "patch", patch_path.replace("{pk}", str(pk)), {field: None})
        assert r.status_code in (200, 422), (field, r.content[:500])
        if r.status_code != 200:
            assert_refused_on(r, field)


def test_a_not_null_refusal_by_the_database_is_a_field_message():
    error = IntegrityError("NOT NULL constraint failed: registry_vehicle.colour")
    assert actions._integrity_error(m.Vehicle, error) == {"colour": [str(actions.NULL_MESSAGE)]}
    pg = IntegrityError(
        'null value in column "colour" of relation "registry_vehicle" violates not-null constraint'
    )
    assert actions._integrity_error(m.Vehicle, pg) == {"colour": [str(actions.NULL_MESSAGE)]}
    # a column whose name begins another's is not mistaken for it; a digest is its source's
    digest = IntegrityError("NOT NULL constraint failed: registry_person.id_number_digest")
    assert set(actions._integrity_error(m.Person, digest)) == {"id_number"}


def test_the_action_refuses_a_null_for_a_not_null_field(world):
    with pytest.raises(actions.ValidationFailed) as refused:
        actions.create(
            world.users[Role.POLICE_ADMIN],
            m.Vehicle,
            {"station_id": world.home.station.pk, "plate": "粤BD12398", "colour": None},
        )
    assert set(refused.value.errors) == {"colour"}
    assert not m.Vehicle.objects.filter(plate="粤BD12398").exists()
