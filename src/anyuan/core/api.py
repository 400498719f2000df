"""API plumbing shared by every app: authentication, errors, and a declarative CRUD
router whose every operation goes through ``restrict()`` and the generic actions.

Every operation that takes an object id declares ``x-anyuan-model`` in the OpenAPI schema;
the scoping test walks the schema and refuses operations that do not.

The error answers are declared in one place, ``Api``'s schema generator: each operation
gets those that follow from its shape (``error_statuses``: 401 and 403 when it needs
credentials, 404 when its path names an object, 422 when it takes parameters or a body,
400 and 413 when it takes a body), with a typed body (``ErrorOut``, ``ValidationErrorOut``
for 422). An operation that can answer more (409 for a state conflict, 429 when rate
limited, 404 for an id in its body) says so with ``errors(...)`` in its ``response``.
``core/tests/test_fuzz_api.py`` fuzzes the whole schema and fails on any answer that the
schema does not declare.
"""

from typing import Annotated

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import (
    ImproperlyConfigured,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import Field, NinjaAPI, Query, Router, Schema, Status
from ninja.errors import ValidationError
from ninja.openapi.docs import DocsBase
from ninja.openapi.schema import OpenAPISchema
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import WithJsonSchema

from anyuan.core import actions, net, personal
from anyuan.core.models import REASON_MAX_LENGTH
from anyuan.core.personal import EncryptedField
from anyuan.core.roles import ADD, CHANGE, DELETE, REVEAL, VIEW


class SessionAuth(APIKeyCookie):
    """Signed-in people: the session cookie (with CSRF on unsafe methods)."""

    param_name = "sessionid"

    def _get_key(self, request):
        # Only a request that carries the session cookie is a session caller, and only it
        # is checked for CSRF. Ninja would check every unsafe request here and answer 403
        # at once, so a bearer-token POST (no cookie, no CSRF token) never reached TokenAuth.
        if not request.COOKIES.get(self.param_name):
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        if not key:
            return None
        user = getattr(request, "user", None)
        return user if user is not None and user.is_authenticated else None


class TokenAuth(HttpBearer):
    """Integrations: ``Authorization: Bearer ayu_…``, acting as the token's user."""

    def authenticate(self, request, token):
        from anyuan.accounts.models import ApiToken

        user = ApiToken.user_for_key(token)  # revoked, expired or inactive: None
        if user is None:
            return None
        request.user = user
        return user


USER_AUTH = [SessionAuth(csrf=True), TokenAuth()]


class LocalDocs(DocsBase):
    """The interactive docs (``/api/v1/docs``): swagger-ui from this server's own static
    files (npm's ``swagger-ui-dist``, nothing from a CDN, so they work on an offline
    network), for signed-in people only. The page carries no CSRF token: "Try it out"
    reads it from the CSRF cookie for unsafe requests (``static/anyuan/api-docs.js``)."""

    template = "core/api_docs.html"

    def render_page(self, request, api, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        context = {
            "api": api,
            "openapi_url": self.get_openapi_url(api, kwargs),
            "csrf_cookie": settings.CSRF_COOKIE_NAME,
        }
        return render(request, self.template, context)


class ErrorOut(Schema):
    """The body of every error answer but 422: what went wrong, for people."""

    detail: str


class FieldError(Schema):
    loc: list[str | int] = Field(description='Where: ["body", "name"], ["query", "limit"], ...')
    msg: str
    type: str


class ValidationErrorOut(Schema):
    """The body of a 422: one entry per refused field."""

    detail: list[FieldError]


ERRORS: dict[int, tuple[type[Schema], str]] = {
    400: (ErrorOut, "The body could not be read"),
    401: (ErrorOut, "No, unknown, expired or revoked credentials"),
    403: (ErrorOut, "Not allowed for this user (role, place, CSRF)"),
    404: (ErrorOut, "No such object in the user's reach"),
    409: (ErrorOut, "Conflicts with the object's state"),
    413: (ErrorOut, "The body is too large"),
    422: (ValidationErrorOut, "Refused: field-level messages"),
    429: (ErrorOut, "Too many attempts; try again later"),
}


def errors(*statuses: int) -> dict[int, type[Schema]]:
    """Error answers an operation gives beyond those that follow from its shape, for its
    ``response``: ``response={200: CaseOut, **errors(409)}``."""
    return {status: ERRORS[status][0] for status in statuses}


def error_statuses(operation: dict) -> set[int]:
    """The error answers that follow from an operation's shape in the OpenAPI schema."""
    statuses = set()
    if operation.get("security"):
        statuses |= {401, 403}  # no or bad credentials; role, place or CSRF refused
    params = operation.get("parameters") or []
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)  # the object does not exist or is out of reach
    if params or operation.get("requestBody"):
        statuses.add(422)  # validation, by the schema or by the actions
    if operation.get("requestBody"):
        statuses |= {400, 413}  # unreadable or oversized body
    return statuses


def inline_choices(choices):
    """A model's choices as an API field type whose enum is written out where it is used,
    rather than as a shared component named after its class: the schema's component
    names are one namespace for every app, and two apps have a ``Severity``."""
    schema = {"type": "string", "enum": list(choices.values)}
    return Annotated[choices, WithJsonSchema(schema)]


class _OpenAPI(OpenAPISchema):
    def add_schema_definitions(self, definitions: dict) -> None:
        for name, schema in definitions.items():
            known = self.schemas.get(name)
            # (a schema read and written differs in which fields it requires, no more)
            if known is not None and _without_required(known) != _without_required(schema):
                raise ImproperlyConfigured(
                    f"Two different API schemas are named {name!r}: rename one (Ninja would "
                    "document one in place of the other), or, for a model's choices, use "
                    "core.api.inline_choices."
                )
        super().add_schema_definitions(definitions)

    def operation_details(self, operation) -> dict:
        details = super().operation_details(operation)
        # openapi_extra may add responses under string keys next to Ninja's integer ones
        declared: dict[str, dict] = {}
        for status, response in details["responses"].items():
            self.deep_dict_update(declared.setdefault(str(status), {}), response)
        for status in sorted(error_statuses(details) | {int(s) for s in declared if s.isdigit()}):
            if status not in ERRORS:
                continue
            model, description = ERRORS[status]
            wrapped = operation._create_response_model(model)
            schema = self._create_schema_from_model(wrapped, mode="serialization")[0]
            response = declared.setdefault(str(status), {"description": description})
            content = response.setdefault("content", {}).setdefault(
                self.api.renderer.media_type, {"schema": schema}
            )
            alternatives = content["schema"].get("anyOf", [content["schema"]])
            if schema not in alternatives:  # its own body, or ours (e.g. Ninja's 422)
                content["schema"] = {"anyOf": [*alternatives, schema]}
        details["responses"] = dict(sorted(declared.items()))
        return details


def _without_required(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k != "required"}


class Api(NinjaAPI):
    """The NinjaAPI whose schema declares every operation's error answers, each status once
    (Ninja keys the responses it generates by number and ``openapi_extra`` by string; the
    JSON would hold both, which swagger-ui refuses), and refuses two schemas of one name."""

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return _OpenAPI(api=self, path_prefix=path_prefix)


# An integer a database column can hold: query parameters that filter by an id or a
# number use it, so an out-of-range value is a 422 rather than a driver error (a 500).
DbInt = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


class Pagination(LimitOffsetPagination):
    """limit/offset, bounded so that offset + limit stays inside a database integer."""

    class Input(Schema):
        limit: int = Field(100, ge=1, le=2**62)
        offset: int = Field(0, ge=0, le=2**62)


client_ip = net.client_ip


def field_errors(errors: dict[str, list[str]]) -> list[dict]:
    return [
        {"loc": ["body", field] if field != "__all__" else ["body"], "msg": msg, "type": "invalid"}
        for field, msgs in errors.items()
        for msg in msgs
    ]


def install_error_handlers(api):
    @api.exception_handler(actions.ValidationFailed)
    def validation_failed(request, exc):
        return api.create_response(request, {"detail": field_errors(exc.errors)}, status=422)

    @api.exception_handler(actions.RateLimited)
    def rate_limited(request, exc):
        response = api.create_response(request, {"detail": str(exc)}, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(PermissionDenied)
    def permission_denied(request, exc):
        return api.create_response(request, {"detail": str(exc) or _("Forbidden.")}, status=403)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(request, {"detail": _("Not found.")}, status=404)

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc):
        return api.create_response(
            request, {"detail": _("The request body is too large.")}, status=413
        )

    @api.exception_handler(SuspiciousOperation)
    def bad_request(request, exc):
        return api.create_response(request, {"detail": _("Bad request.")}, status=400)


@csrf_exempt  # it changes nothing; a POST with a session cookie is a 404 too, not a CSRF 403
def not_found(request, rest: str = ""):
    """Any other path under /api/: a JSON 404 like the API's own (an id that is not a number,
    e.g. ``/registry/person/abc``, matches no route), not the HTML page."""
    return JsonResponse({"detail": _("Not found.")}, status=404)


class RevealIn(Schema):
    field: str
    reason: str = Field(..., max_length=REASON_MAX_LENGTH)


class RevealOut(Schema):
    field: str
    value: str


def masked(value) -> str:
    return str(value) if value else ""


def crud(
    router: Router,
    model,
    *,
    out: type[Schema],
    create: type[Schema] | None = None,
    update: type[Schema] | None = None,
    filters: type[Schema] | None = None,
    path: str | None = None,
    delete: bool = True,
    select_related: tuple[str, ...] = (),
    search_digests: list[tuple[str, str]] = (),
):
    """Register list / get / create / patch / delete (and reveal, for models holding
    personal data) for ``model`` on ``router``.

    ``search_digests``: ``(field, kind)`` pairs whose exact value ``q`` also finds, through
    the field's keyed hash (counted and audited: :func:`actions.search_personal`)."""
    name = model._meta.model_name
    base = path or f"/{model._meta.verbose_name_plural}".replace(" ", "-")
    label = model._meta.label_lower
    extra = {"x-anyuan-model": label}
    tag = str(model._meta.verbose_name_plural)
    Filters = filters or type(f"{model.__name__}Filters", (Schema,), {"__annotations__": {}})

    def get_or_404(request, pk, action):
        try:
            return model.objects.restrict(request.auth, action).get(pk=pk)
        except model.DoesNotExist:
            raise Http404 from None

    list_responses = {200: list[out]}
    if search_digests:
        list_responses[429] = ErrorOut

    @router.get(
        base,
        response=list_responses,
        operation_id=f"list_{name}",
        tags=[tag],
        summary=f"List {name}",
    )
    @paginate(Pagination)
    def list_objects(request, filters: Query[Filters]):
        qs = model.objects.restrict(request.auth, VIEW)
        if select_related:
            qs = qs.select_related(*select_related)
        conditions = dict(filters.dict(exclude_none=True))
        nul = [k for k, v in conditions.items() if isinstance(v, str) and "\x00" in v]
        if nul:  # PostgreSQL cannot compare text with NUL characters
            raise ValidationError(
                [
                    {
                        "loc": ["query", k],
                        "msg": _("Text may not contain NUL characters."),
                        "type": "invalid",
                    }
                    for k in nul
                ]
            )
        q = conditions.pop("q", None)
        if q:
            found = actions.search_personal(
                request.auth,
                model,
                q,
                [kind for _field, kind in search_digests],
                remote_addr=client_ip(request),
            )
            by_digest = Q(pk__in=[])
            for kind, digest, _masked in found:
                for field, k in search_digests:
                    if k == kind:
                        by_digest |= Q(**{f"{field}_digest": digest})
            if hasattr(filters, "search"):
                by_text = filters.search(qs, q)
                qs = (by_text | qs.filter(by_digest)) if found else by_text
            elif found:
                qs = qs.filter(by_digest)
        # no filtering by personal data, nor by who reported where the caller may not see it
        conditions = {
            k: v
            for k, v in conditions.items()
            if personal.may_look_up(request.auth, model, k.split("__")[0])
        }
        return qs.filter(**conditions)

    @router.get(
        f"{base}/{{int:pk}}",
        response=out,
        operation_id=f"get_{name}",
        tags=[tag],
        openapi_extra=extra,
    )
    def get_object(request, pk: int):
        return get_or_404(request, pk, VIEW)

    if create is not None:

        @router.post(base, response={201: out}, operation_id=f"create_{name}", tags=[tag])
        def create_object(request, payload: create):
            obj = actions.create(
                request.auth,
                model,
                payload.dict(exclude_unset=True),
                remote_addr=client_ip(request),
            )
            return Status(201, obj)

    if update is not None:

        @router.patch(
            f"{base}/{{int:pk}}",
            response=out,
            operation_id=f"update_{name}",
            tags=[tag],
            openapi_extra=extra,
        )
        def update_object(request, pk: int, payload: update):
            obj = get_or_404(request, pk, CHANGE)
            return actions.update(
                request.auth, obj, payload.dict(exclude_unset=True), remote_addr=client_ip(request)
            )

    if delete:

        @router.delete(
            f"{base}/{{int:pk}}",
            response={204: None},
            operation_id=f"delete_{name}",
            tags=[tag],
            openapi_extra=extra,
        )
        def delete_object(request, pk: int):
            obj = get_or_404(request, pk, DELETE)
            actions.delete(request.auth, obj, remote_addr=client_ip(request))
            return Status(204, None)

    if personal.disclosure(model).derived or any(
        isinstance(f, EncryptedField) for f in model._meta.concrete_fields
    ):

        @router.post(
            f"{base}/{{int:pk}}/reveal",
            response=RevealOut,
            operation_id=f"reveal_{name}",
            tags=[tag],
            openapi_extra=extra,
            summary="Reveal one personal-data field (audited, needs a reason)",
        )
        def reveal(request, pk: int, payload: RevealIn):
            obj = get_or_404(request, pk, REVEAL)
            try:
                model._meta.get_field(payload.field)
            except Exception:
                raise actions.ValidationFailed({"field": [_("Unknown field.")]}) from None
            value = actions.reveal(
                request.auth, obj, payload.field, payload.reason, remote_addr=client_ip(request)
            )
            return {"field": payload.field, "value": value}

    return router


__all__ = [
    "ADD",
    "USER_AUTH",
    "Api",
    "DbInt",
    "ErrorOut",
    "ValidationErrorOut",
    "crud",
    "errors",
    "inline_choices",
    "install_error_handlers",
    "masked",
    "not_found",
]
