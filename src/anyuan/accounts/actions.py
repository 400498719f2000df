"""Account changes: users (with their passwords) and API tokens.

Which accounts an actor reaches — sees, creates, changes, resets — is the role table's
declaration (``core.roles.MANAGED_BY``), applied by ``User.objects.restrict()``; the
actions here add a field-level message for a role the actor may not give.
"""

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.accounts.models import ApiToken, User
from anyuan.core import actions, audit
from anyuan.core.models import AuditAction
from anyuan.core.roles import ADD, CHANGE, Role, managed_roles, user_can


def assignable_roles(actor) -> list[tuple[str, str]]:
    """(value, label) of the roles ``actor`` may give, in the role table's order."""
    mine = managed_roles(actor)
    return [(value, label) for value, label in Role.choices if value in mine]


def check_role(actor, data: dict) -> None:
    """Refuse a role the actor does not manage, naming the ones it may give."""
    role = data.get("role")
    if not role or role in managed_roles(actor):  # no role at all: User.clean says so
        return
    roles = ", ".join(str(label) for _value, label in assignable_roles(actor))
    raise actions.ValidationFailed(
        {
            "role": [
                _("You may not give this role. Roles you may give: %(roles)s.") % {"roles": roles}
            ]
        }
    )


def create_user(actor, data: dict, password: str, *, remote_addr=None) -> User:
    """A new user with ``password``; the actor's scope decides where it may be placed."""
    if not user_can(actor, User, ADD):
        raise PermissionDenied(_("You may not do this."))
    check_role(actor, data)
    try:
        validate_password(password)
    except ValidationError as e:
        raise actions.ValidationFailed({"password": list(e.messages)}) from None
    # hashed before create(): its full_clean() refuses a user without a password, and the
    # audit snapshot leaves the hash out
    data = {**data, "password": make_password(password)}
    return actions.create(actor, User, data, remote_addr=remote_addr)


def update_user(actor, user: User, data: dict, *, remote_addr=None) -> User:
    """Change a user the actor manages; the role only to one the actor manages too."""
    check_role(actor, data)
    return actions.update(actor, user, data, remote_addr=remote_addr)


def set_password(actor, user: User, password: str, *, remote_addr=None) -> None:
    """A new password for ``user``: every API token of the user is revoked and every other
    session of the user ends (Django's session hash), whoever changes it."""
    if actor.pk != user.pk and not User.objects.restrict(actor, CHANGE).filter(pk=user.pk).exists():
        raise PermissionDenied(_("You may not change this user's password."))
    try:
        validate_password(password, user)
    except ValidationError as e:
        raise actions.ValidationFailed({"password": list(e.messages)}) from None
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])  # User.save revokes the tokens
        audit.record(
            actor,
            AuditAction.UPDATE,
            user,
            after={"password": "changed", "api_tokens_revoked": getattr(user, "tokens_revoked", 0)},
            remote_addr=remote_addr,
        )


def issue_token(
    actor, user: User, name: str, expires=None, *, remote_addr=None
) -> tuple[ApiToken, str]:
    """A new API token for the actor itself (``user`` must be the actor: a token acts as its
    user, so nobody holds one acting as someone else). It expires at ``expires`` or after
    ``ANYUAN_TOKEN_TTL_DAYS``, whichever comes first; a later date is refused.

    Returns the token row and the key, which is shown once and stored only hashed."""
    if getattr(user, "pk", None) != actor.pk:
        raise PermissionDenied(_("API tokens are issued to their own user only."))
    if not (name or "").strip():
        raise actions.ValidationFailed({"name": [_("Name the token after what uses it.")]})
    actions.check_text({"name": name})
    now = timezone.now()
    latest = now + ApiToken.ttl()
    if expires is None:
        expires = latest
    if timezone.is_naive(expires):
        expires = timezone.make_aware(expires)
    if expires <= now:
        raise actions.ValidationFailed({"expires": [_("The expiry must be in the future.")]})
    if expires > latest:
        raise actions.ValidationFailed(
            {"expires": [_("A token lives at most %(days)d days.") % {"days": ApiToken.ttl().days}]}
        )
    key, prefix, digest = ApiToken.new_key()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor, name=name.strip(), key_prefix=prefix, key_digest=digest, expires=expires
        )
        audit.record(
            actor,
            AuditAction.TOKEN,
            token,
            after={"user": actor.pk, "name": token.name, "expires": expires.isoformat()},
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
