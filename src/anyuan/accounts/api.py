"""Accounts endpoints: who am I, users, API tokens."""

from datetime import datetime

from django.db.models import Q
from django.http import Http404
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from anyuan.accounts import actions as account_actions
from anyuan.accounts.models import ApiToken, User
from anyuan.core.api import DbInt, client_ip, crud, errors
from anyuan.core.roles import ACTIONS, CHANGE, VIEW, Role, managed_roles, user_can
from anyuan.core.schemas import model_schemas

router = Router(tags=["accounts"])

USER_FIELDS = [
    "username",
    "first_name",
    "last_name",
    "email",
    "role",
    "station",
    "enterprise",
    "person",
    "is_active",
]


class MeOut(Schema):
    id: int
    username: str
    role: str
    station_id: int | None
    enterprise_id: int | None
    person_id: int | None
    permissions: dict[str, list[str]]


@router.get("/me", response=MeOut, operation_id="me")
def me(request):
    from django.apps import apps

    user = request.auth
    perms = {}
    for model in apps.get_models():
        if hasattr(model, "scope"):
            allowed = [a for a in ACTIONS if user_can(user, model, a)]
            if allowed:
                perms[model._meta.label_lower] = allowed
    return {
        "id": user.pk,
        "username": user.username,
        "role": user.role,
        "station_id": user.station_id,
        "enterprise_id": user.enterprise_id,
        "person_id": user.person_id,
        "permissions": perms,
    }


class RoleOut(Schema):
    value: Role
    label: str
    assignable: bool = Field(description="Whether you may give this role (create, change).")


@router.get("/roles", response=list[RoleOut], operation_id="list_roles", tags=["users"])
def list_roles(request):
    """Every role a user can have: its value (the ``role`` of a user), its label, and
    whether you may give it."""
    mine = managed_roles(request.auth)
    return [{"value": v, "label": str(label), "assignable": v in mine} for v, label in Role.choices]


ROLE_HELP = (
    "One of the roles listed by GET /api/v1/accounts/roles, which also says which you may give."
)

UserOut, UserCreateBase, UserPatchBase = model_schemas(User, USER_FIELDS)


class UserCreate(UserCreateBase):
    role: Role = Field(description=ROLE_HELP)
    password: str


class UserPatch(UserPatchBase):
    role: Role | None = Field(None, description=ROLE_HELP)


class UserFilters(Schema):
    q: str | None = Field(None, description="Part of the user name or name.")
    role: Role | None = None
    enterprise: DbInt | None = None
    is_active: bool | None = None

    @staticmethod
    def search(qs, q):
        return qs.filter(
            Q(username__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
        )


@router.post("/users", response={201: UserOut}, operation_id="create_user", tags=["users"])
def create_user(request, payload: UserCreate):
    data = payload.dict(exclude_unset=True)
    password = data.pop("password")
    user = account_actions.create_user(request.auth, data, password, remote_addr=client_ip(request))
    return Status(201, user)


crud(router, User, out=UserOut, filters=UserFilters, path="/users", delete=False)


@router.patch(
    "/users/{int:pk}",
    response=UserOut,
    operation_id="update_user",
    tags=["users"],
    openapi_extra={"x-anyuan-model": "accounts.user"},
)
def update_user(request, pk: int, payload: UserPatch):
    user = User.objects.restrict(request.auth, CHANGE).filter(pk=pk).first()
    if user is None:
        raise Http404
    return account_actions.update_user(
        request.auth, user, payload.dict(exclude_unset=True), remote_addr=client_ip(request)
    )


class TokenOut(Schema):
    id: int
    user_id: int
    name: str
    key_prefix: str
    created: datetime
    last_used: datetime | None
    expires: datetime
    revoked: bool


class TokenIn(Schema):
    """A token for yourself: it acts as you (there is no field naming another user)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    expires: datetime | None = Field(
        None, description="Earlier than the default: at most ANYUAN_TOKEN_TTL_DAYS (90) days."
    )


class TokenCreated(TokenOut):
    key: str


@router.post(
    "/tokens",
    response={201: TokenCreated, **errors(404)},
    operation_id="issue_token",
    tags=["tokens"],
)
def issue_token(request, payload: TokenIn):
    actor = request.auth
    token, key = account_actions.issue_token(
        actor, actor, payload.name, payload.expires, remote_addr=client_ip(request)
    )
    out = TokenOut.from_orm(token).dict()
    return Status(201, {**out, "key": key})


@router.get("/tokens", response=list[TokenOut], operation_id="list_tokens", tags=["tokens"])
def list_tokens(request):
    return ApiToken.objects.restrict(request.auth, VIEW)


@router.post(
    "/tokens/{int:pk}/revoke",
    response={204: None},
    operation_id="revoke_token",
    tags=["tokens"],
    openapi_extra={"x-anyuan-model": "accounts.apitoken"},
)
def revoke_token(request, pk: int):
    token = ApiToken.objects.restrict(request.auth, CHANGE).filter(pk=pk).first()
    if token is None:
        raise Http404
    account_actions.revoke_token(request.auth, token, remote_addr=client_ip(request))
    return Status(204, None)


def _user_in_scope(request, pk: int) -> User:
    user = User.objects.restrict(request.auth, CHANGE).filter(pk=pk).first()
    if user is None:
        raise Http404
    return user


@router.post(
    "/users/{int:pk}/unlock",
    response={204: None},
    operation_id="unlock_sign_in",
    tags=["users"],
    openapi_extra={"x-anyuan-model": "accounts.user"},
)
def unlock_sign_in(request, pk: int):
    """Forget the user name's failed sign-ins and wrong codes (police administrators)."""
    user = _user_in_scope(request, pk)
    account_actions.unlock_sign_in(request.auth, user, remote_addr=client_ip(request))
    return Status(204, None)


@router.post(
    "/users/{int:pk}/reset-two-factor",
    response={204: None},
    operation_id="reset_two_factor",
    tags=["users"],
    openapi_extra={"x-anyuan-model": "accounts.user"},
)
def reset_two_factor(request, pk: int):
    """Remove the user's authenticator and recovery codes (police administrators)."""
    user = _user_in_scope(request, pk)
    account_actions.reset_two_factor(request.auth, user, remote_addr=client_ip(request))
    return Status(204, None)
