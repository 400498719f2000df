"""The OpenAPI schema declares the answers the API really gives: every operation its
error answers with typed bodies (core/api.py), no two schemas under one name, and a JSON
404 for a path under /api/ that matches no route. test_fuzz_api.py checks the answers
against it."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from ninja import Router, Schema

from anyuan.api import api
from anyuan.core.api import Api
from anyuan.core.roles import Role

ERROR = "#/components/schemas/ErrorOut"
INVALID = "#/components/schemas/ValidationErrorOut"


def operations():
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            yield f"{method.upper()} {path}", op


def body_refs(response) -> set[str]:
    schema = response["content"]["application/json"]["schema"]
    return {s.get("$ref") for s in schema.get("anyOf", [schema])}


def test_every_operation_declares_the_errors_its_shape_can_answer():
    seen = 0
    for label, op in operations():
        seen += 1
        responses = op["responses"]
        expected = set()
        if op.get("security"):
            expected |= {"401", "403"}
        params = op.get("parameters", [])
        if any(p["in"] == "path" for p in params):
            expected.add("404")
        if params or op.get("requestBody"):
            expected.add("422")
        if op.get("requestBody"):
            expected |= {"400", "413"}
        assert expected <= set(responses), (label, sorted(expected - set(responses)))
        for status in expected - {"422"}:
            assert ERROR in body_refs(responses[status]), (label, status)
        if "422" in expected:
            assert INVALID in body_refs(responses["422"]), label
    assert seen > 150


def test_conflicts_and_lookups_by_body_are_declared_where_they_happen():
    declared = {label: set(op["responses"]) for label, op in operations()}
    assert "409" in declared["POST /api/v1/alerts/{pk}/acknowledge"]
    assert "409" in declared["POST /api/v1/disputes/cases/{pk}/accept"]
    assert "404" in declared["GET /api/v1/events/occupancy"]  # a zone id in the query
    assert "503" in declared["POST /api/v1/events/ingest/passages"]


def test_two_different_schemas_under_one_name_are_refused():
    """Ninja names a component after its class: a second ``ZoneOccupancy`` silently
    replaced the first in the documentation of another app's endpoint."""

    def shaped(**fields):
        return type("Twin", (Schema,), {"__annotations__": fields})

    one, other = Router(), Router()
    one.get("/a", response=shaped(a=int))(lambda request: None)
    other.get("/b", response=shaped(b=str))(lambda request: None)
    twins = Api(urls_namespace="twins")
    twins.add_router("/one", one)
    twins.add_router("/other", other)
    with pytest.raises(ImproperlyConfigured, match="Twin"):
        twins.get_openapi_schema(path_prefix="/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/registry/person/abc"),
        ("get", "/api/v1/registry/person/-1"),
        ("get", "/api/v1/accounts/users/%0A%C3%81"),
        ("patch", "/api/v1/registry/enterprise/%0A%C2%AB"),
        ("patch", "/api/v1/registry/person/1.5"),
        ("post", "/api/v1/no-such-thing"),
        ("get", "/api/v2/registry/person"),
    ],
)
def test_a_path_matching_no_route_is_a_json_404(world, method, url):
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    client.force_login(world.users[Role.POLICE_ADMIN])  # a session cookie, no CSRF token
    if method == "get":
        response = client.get(url)
    else:
        response = getattr(client, method)(url, "{}", content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}
