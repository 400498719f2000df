"""Account changes: users (with their passwords) and API tokens."""

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from anyuan.accounts.models import ApiToken, User
from anyuan.core import actions, audit
from anyuan.core.models import AuditAction
from anyuan.core.roles import ADD, CHANGE, user_can


def create_user(actor, data: dict, password: str, *, remote_addr=None) -> User:
    """A new user with ``password``; the actor's scope decides where it may be placed."""
    try:
        validate_password(password)
    except ValidationError as e:
        raise actions.ValidationFailed({"password": list(e.messages)}) from None
    # hashed before create(): its full_clean() refuses a user without a password, and the
    # audit snapshot leaves the hash out
    data = {**data, "password": make_password(password)}
    return actions.create(actor, User, data, remote_addr=remote_addr)


def set_password(actor, user: User, password: str, *, remote_addr=None) -> None:
    if actor.pk != user.pk and not User.objects.restrict(actor, CHANGE).filter(pk=user.pk).exists():
        raise PermissionDenied(_("You may not change this user's password."))
    try:
        validate_password(password, user)
    except ValidationError as e:
        raise actions.ValidationFailed({"password": list(e.messages)}) from None
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(
            actor, AuditAction.UPDATE, user, after={"password": "changed"}, remote_addr=remote_addr
        )


def issue_token(
    actor, user: User, name: str, expires=None, *, remote_addr=None
) -> tuple[ApiToken, str]:
    """A new API token for ``user`` (the actor's own, or one in the actor's scope).

    Returns the token row and the key, which is shown once and stored only hashed."""
    if actor.pk != user.pk and not (
        user_can(actor, ApiToken, ADD)
        and User.objects.restrict(actor, CHANGE).filter(pk=user.pk).exists()
    ):
        raise PermissionDenied(_("You may not issue tokens for this user."))
    if not (name or "").strip():
        raise actions.ValidationFailed({"name": [_("Name the token after what uses it.")]})
    actions.check_text({"name": name})
    key, prefix, digest = ApiToken.new_key()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name.strip(), key_prefix=prefix, key_digest=digest, expires=expires
        )
        audit.record(
            actor,
            AuditAction.TOKEN,
            token,
            after={"user": user.pk, "name": token.name},
            remote_addr=remote_addr,
        )
    return token, key


def revoke_token(actor, token: ApiToken, *, remote_addr=None) -> None:
    if not ApiToken.objects.restrict(actor, CHANGE).filter(pk=token.pk).exists():
        raise PermissionDenied(_("You may not revoke this token."))
    with transaction.atomic():
        token.revoked = True
        token.save(update_fields=["revoked"])
        audit.record(
            actor, AuditAction.UPDATE, token, after={"revoked": True}, remote_addr=remote_addr
        )
