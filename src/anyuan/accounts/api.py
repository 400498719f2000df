"""Accounts endpoints: who am I, users, API tokens."""

from datetime import datetime

from django.http import Http404
from ninja import Router, Schema, Status

from anyuan.accounts import actions as account_actions
from anyuan.accounts.models import ApiToken, User
from anyuan.core.api import client_ip, crud, errors
from anyuan.core.roles import ACTIONS, CHANGE, VIEW, user_can
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


UserOut, UserCreateBase, UserPatch = model_schemas(User, USER_FIELDS)


class UserCreate(UserCreateBase):
    password: str


@router.post("/users", response={201: UserOut}, operation_id="create_user", tags=["users"])
def create_user(request, payload: UserCreate):
    data = payload.dict(exclude_unset=True)
    password = data.pop("password")
    user = account_actions.create_user(request.auth, data, password, remote_addr=client_ip(request))
    return Status(201, user)


crud(router, User, out=UserOut, update=UserPatch, path="/users", delete=False)


class TokenOut(Schema):
    id: int
    user_id: int
    name: str
    key_prefix: str
    created: datetime
    last_used: datetime | None
    expires: datetime | None
    revoked: bool


class TokenIn(Schema):
    name: str
    user: int | None = None
    expires: datetime | None = None


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
    if payload.user is None or payload.user == actor.pk:
        user = actor
    else:
        user = User.objects.restrict(actor, VIEW).filter(pk=payload.user).first()
        if user is None:
            raise Http404
    token, key = account_actions.issue_token(
        actor, user, payload.name, payload.expires, remote_addr=client_ip(request)
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
