"""The scoping matrix: every page and every API operation, as every role, against objects
of another tenant (another station, a neighbouring enterprise, another person's records).

The walk is exhaustive by construction: it enumerates the URL configuration and the
OpenAPI schema, so a new page or endpoint is tested the moment it exists. It fails when
an endpoint takes an object id but does not say which model it serves, or when the
`world` fixture holds no out-of-scope object of that model to try.
"""

import json

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from anyuan.accounts.actions import issue_token
from anyuan.core import audit
from anyuan.core.models import AuditAction
from anyuan.core.roles import Role

ROLES = list(Role)
POLICE = {Role.POLICE_ADMIN, Role.POLICE_OFFICER}
PERSONAL = {Role.INFORMANT, Role.EMPLOYEE}
REFUSED = {302, 401, 403, 404, 405}

# Pages that take no object id and show no registry rows; anything else is walked.
# Each entry: url name → why it is safe to leave out of the marker check.
NOT_DATA_PAGES = {
    "set_language": "POST-only language switch",
    "accounts:logout": "POST-only sign-out",
}


def iter_patterns(resolver=None, prefix="", namespace=""):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from iter_patterns(p, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace and p.name else p.name
            yield name, prefix + str(p.pattern), p


def view_model(pattern: URLPattern):
    callback = pattern.callback
    initkwargs = getattr(callback, "view_initkwargs", {}) or {}
    if initkwargs.get("model") is not None:
        return initkwargs["model"]
    view_class = getattr(callback, "view_class", None)
    return getattr(view_class, "model", None)


def forbidden_objects(world, role):
    """Objects ``role`` (as the `world`'s home user) must not reach, per model label."""
    from anyuan.accounts.models import ApiToken

    objs = []

    def add(ns):
        objs.extend(v for v in vars(ns).values() if hasattr(v, "_meta"))

    add(world.foreign_station)
    add(world.foreign)
    objs += list(world.foreign_users.values())
    objs += list(ApiToken.objects.filter(user__in=world.foreign_users.values()))
    objs += list(world.audit_foreign)
    if role not in POLICE:
        add(world.neighbour)
        objs += list(world.neighbour_users.values())
        objs += list(ApiToken.objects.filter(user__in=world.neighbour_users.values()))
        objs += list(world.audit_neighbour)
    if role in PERSONAL:
        own = world.own
        mine = {
            Role.EMPLOYEE: {own.person, own.qualification, own.vehicle, own.authorisation},
            Role.INFORMANT: {own.colleague, own.informant},
        }[role]
        objs += [v for v in vars(own).values() if hasattr(v, "_meta") and v not in mine]
        objs += [u for r, u in world.users.items() if r != role]
        objs += [world.home.station, world.home.park, world.home.grid, world.home.officer]
        objs += [world.home.contact_group, world.home.agency, world.home.shared_zone]
        objs += [world.home.police_watch]
    by_label = {}
    for obj in objs:
        if getattr(type(obj), "scope", None) is not None and type(obj).scope.public:
            continue
        by_label.setdefault(obj._meta.label_lower, []).append(obj)
    return by_label


def markers(world, role):
    """Strings that must never appear in a page or API answer for ``role``."""
    # every person of the world is born on 1 January 1990 (core.testing.make_id_number):
    # the date of birth is masked for every role (personal data derived from the ID number)
    found = ["FOREIGN", "1990-01-01", "19900101"]
    if role not in POLICE and role not in PERSONAL:
        # who reported the enterprise's own case is the police's (Case.disclosure)
        found.append(world.own.dispute.reporter_name)
    if role not in POLICE:
        found.append("NEIGHBOUR")
    if role == Role.EMPLOYEE:
        found.append(world.own.colleague.name)
    if role == Role.INFORMANT:
        found.append(world.own.person.name)
    return found


@pytest.fixture
def scoped_world(world):
    """The world plus audit entries and API tokens in every tenant, and every person's
    date of birth as the actions and the importer keep it (taken from the ID number)."""
    from anyuan.core.identifiers import id_number_birth_date
    from anyuan.core.personal import plain
    from anyuan.registry.models import Person

    for person in Person.objects.all():
        if person.id_number:
            born = id_number_birth_date(plain(person.id_number))
            Person.objects.filter(pk=person.pk).update(birth_date=born)
    assert Person.objects.filter(birth_date="1990-01-01").exists()
    for user in [*world.foreign_users.values(), *world.neighbour_users.values()]:
        issue_token(user, user, f"{user.username} token")
    world.audit_foreign = [
        audit.record(
            world.foreign_users[Role.POLICE_ADMIN],
            AuditAction.UPDATE,
            world.foreign.person,
            after={"note": "FOREIGN change"},
        )
    ]
    world.audit_neighbour = [
        audit.record(
            world.neighbour_users[Role.ENTERPRISE_ADMIN],
            AuditAction.UPDATE,
            world.neighbour.person,
            after={"note": "NEIGHBOUR change"},
        )
    ]
    return world


def client_for(world, role):
    client = Client(raise_request_exception=False)
    if role is not None:
        client.force_login(world.users[role])
    return client


def body(response) -> str:
    text = response.content.decode("utf-8", errors="replace")
    if response.get("Content-Type", "").startswith("application/json"):
        # JSON escapes non-ASCII text (\\u4fe1): search the text itself
        try:
            return json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            return text
    return text


@pytest.mark.django_db
@pytest.mark.parametrize("role", [*ROLES, None], ids=[*(r.value for r in ROLES), "anonymous"])
def test_every_page_refuses_out_of_scope_objects(scoped_world, role):
    world = scoped_world
    client = client_for(world, role)
    forbidden = forbidden_objects(world, role) if role else {}
    checked_detail = 0
    problems = []
    for name, route, pattern in iter_patterns():
        if route.startswith(("api/", "admin/")):
            continue  # the API is walked through its schema, the admin below
        params = set(pattern.pattern.converters)
        if "pk" in params:
            model = view_model(pattern)
            if model is None:
                problems.append(f"{route}: takes an object id but declares no model")
                continue
            if role is None:
                targets = list(model._base_manager.all()[:1])
            else:
                targets = forbidden.get(model._meta.label_lower, [])
                if not targets and not model.scope.public:
                    problems.append(
                        f"{route}: the world fixture has no out-of-scope {model._meta.label} "
                        f"for {role}; add one"
                    )
            for obj in targets:
                url = reverse(name, kwargs={"pk": obj.pk})
                for method in ("get", "post"):
                    response = getattr(client, method)(url)
                    if response.status_code not in REFUSED:
                        problems.append(f"{method.upper()} {url} as {role}: {response.status_code}")
                    elif role is not None and response.status_code == 302:
                        problems.append(
                            f"{method.upper()} {url} as {role}: redirected, not refused"
                        )
                checked_detail += 1
            continue
        if params:
            problems.append(f"{route}: parameters {params} not covered by the scoping walk")
            continue
        if name in NOT_DATA_PAGES:
            continue
        url = reverse(name)
        response = client.get(url)
        if response.status_code >= 500:
            problems.append(f"GET {url} as {role}: {response.status_code}")
            continue
        if role is None and view_model(pattern) is not None and response.status_code not in REFUSED:
            problems.append(f"GET {url} anonymous: {response.status_code}")
        text = body(response)
        for marker in markers(world, role) if role else ["FOREIGN", "NEIGHBOUR"]:
            if marker in text:
                problems.append(f"GET {url} as {role} shows {marker!r}")
    assert not problems, "\n".join(problems)
    assert checked_detail > 0


def openapi_operations(client):
    schema = client.get("/api/v1/openapi.json").json()
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            yield path, method, op


@pytest.mark.django_db
@pytest.mark.parametrize("role", [*ROLES, None], ids=[*(r.value for r in ROLES), "anonymous"])
def test_every_api_operation_refuses_out_of_scope_objects(scoped_world, role):
    world = scoped_world
    client = client_for(world, role)
    forbidden = forbidden_objects(world, role) if role else {}
    problems = []
    checked = 0
    for path, method, op in openapi_operations(Client()):
        has_id = "{pk}" in path
        model_label = op.get("x-anyuan-model")
        if has_id and not model_label:
            problems.append(
                f"{method.upper()} {path}: takes an object id but has no x-anyuan-model"
            )
            continue
        if has_id:
            model = apps.get_model(model_label)
            targets = (
                list(model._base_manager.all()[:1])
                if role is None
                else forbidden.get(model._meta.label_lower, [])
            )
            if role is not None and not targets and not model.scope.public:
                problems.append(f"{path}: no out-of-scope {model_label} in the world for {role}")
            for obj in targets:
                url = path.replace("{pk}", str(obj.pk))
                payload = (
                    {"field": "id_number", "reason": "scoping test"} if "reveal" in path else {}
                )
                before = model._base_manager.filter(pk=obj.pk).values().first()
                response = client.generic(
                    method.upper(), url, json.dumps(payload), content_type="application/json"
                )
                if response.status_code not in REFUSED:
                    problems.append(f"{method.upper()} {url} as {role}: {response.status_code}")
                after = model._base_manager.filter(pk=obj.pk).values().first()
                if after != before:
                    problems.append(f"{method.upper()} {url} as {role} changed the object")
                checked += 1
        elif method == "get":
            url = path
            response = client.get(url)
            if role is None:
                if response.status_code != 401:
                    problems.append(f"GET {url} anonymous: {response.status_code}")
                continue
            if response.status_code >= 500:
                problems.append(f"GET {url} as {role}: {response.status_code}")
            text = body(response)
            for marker in markers(world, role):
                if marker in text:
                    problems.append(f"GET {url} as {role} shows {marker!r}")
    assert not problems, "\n".join(problems)
    assert checked > 0


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_creating_into_another_tenant_is_refused(scoped_world, role):
    """Every create endpoint, fed the field values of an out-of-scope object (its
    references pointing into the other tenant), creates nothing."""
    from anyuan.registry.catalog import FIELDS

    world = scoped_world
    client = client_for(world, role)
    forbidden = forbidden_objects(world, role)
    problems = []
    for model, fields in FIELDS.items():
        for obj in forbidden.get(model._meta.label_lower, [])[:1]:
            payload = {}
            for name in fields:
                field = model._meta.get_field(name)
                if field.many_to_many:
                    payload[name] = list(getattr(obj, name).values_list("pk", flat=True))
                elif field.many_to_one:
                    payload[field.attname] = getattr(obj, field.attname)
                else:
                    value = getattr(obj, name)
                    if hasattr(value, "reveal"):
                        value = value.reveal()
                    if value is not None and not isinstance(value, str | int | float | bool):
                        value = value.isoformat() if hasattr(value, "isoformat") else str(value)
                    payload[name] = value
            count = model._base_manager.count()
            url = f"/api/v1/registry/{model._meta.model_name}"
            response = client.post(url, json.dumps(payload), content_type="application/json")
            if response.status_code not in {403, 404, 422}:
                problems.append(
                    f"POST {url} as {role}: {response.status_code} {body(response)[:200]}"
                )
            if model._base_manager.count() != count:
                problems.append(f"POST {url} as {role} created a row")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_admin_is_for_platform_operators_only(scoped_world, role):
    client = client_for(scoped_world, role)
    for name, _route, pattern in iter_patterns():
        if not name or not name.startswith("admin:") or pattern.pattern.regex.groups:
            continue
        if name in ("admin:login", "admin:logout"):
            continue  # the admin's own sign-in page shows no data
        response = client.get(reverse(name))
        assert response.status_code in REFUSED, (name, response.status_code)


@pytest.mark.django_db
def test_own_rows_are_visible(scoped_world):
    """The refusals above are not vacuous: each role does see its own rows."""
    world = scoped_world
    expectations = {
        Role.POLICE_ADMIN: [world.neighbour.person, world.home.police_watch],
        Role.POLICE_OFFICER: [world.own.person, world.neighbour.enterprise],
        Role.ENTERPRISE_ADMIN: [world.own.person, world.own.zone, world.home.shared_zone],
        Role.ENTERPRISE_SECURITY: [world.own.person, world.own.vehicle],
        Role.INFORMANT: [world.own.colleague],
        Role.EMPLOYEE: [world.own.person, world.own.vehicle, world.own.qualification],
    }
    for role, objs in expectations.items():
        client = client_for(world, role)
        for obj in objs:
            page = client.get(obj.get_absolute_url())
            assert page.status_code == 200, (role, obj, page.status_code)
            api = client.get(f"/api/v1/registry/{obj._meta.model_name}/{obj.pk}")
            assert api.status_code == 200, (role, obj, api.status_code)
