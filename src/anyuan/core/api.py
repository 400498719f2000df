"""API plumbing shared by every app: authentication, errors, and a declarative CRUD
router whose every operation goes through ``restrict()`` and the generic actions.

Every operation that takes an object id declares ``x-anyuan-model`` in the OpenAPI schema;
the scoping test walks the schema and refuses operations that do not.
"""

from typing import Annotated, Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db.models import Q
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Query, Router, Schema, Status
from ninja.errors import ValidationError
from ninja.openapi.docs import DocsBase
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.security import APIKeyCookie, HttpBearer

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


def _merged(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


class AnyuanAPI(NinjaAPI):
    """NinjaAPI whose schema names each response status once: Ninja keys the responses it
    generates by number (200) and an operation's ``openapi_extra`` by string ("200"), and
    the JSON then holds the key twice, which YAML-based readers (swagger-ui) refuse. The
    two are merged under the string key, the declared details over the generated ones."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses") if isinstance(operation, dict) else None
                if not responses:
                    continue
                merged: dict = {}
                for status in sorted(responses, key=lambda s: isinstance(s, str)):
                    key = str(status)
                    merged[key] = _merged(merged.get(key, {}), responses[status])
                operation["responses"] = merged
        return schema


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
    detail: Any


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


__all__ = ["ADD", "USER_AUTH", "DbInt", "crud", "install_error_handlers", "masked"]
