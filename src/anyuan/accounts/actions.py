"""Account changes: users (with their passwords) and API tokens.

Which accounts an actor reaches — sees, creates, changes, resets — is the role table's
declaration (``core.roles.MANAGED_BY``), applied by ``User.objects.restrict()``; the
actions here add a field-level message for a role the actor may not give.
"""

from django.conf import settings
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


def check_password(password: str, user: User) -> None:
    """Settings' AUTH_PASSWORD_VALIDATORS for ``user`` (also one not saved yet, so that the
    password is compared with the user name it is created with); a field error if not."""
    try:
        validate_password(password, user)
    except ValidationError as e:
        raise actions.ValidationFailed({"password": list(e.messages)}) from None


def create_user(actor, data: dict, password: str, *, remote_addr=None) -> User:
    """A new user with ``password``; the actor's scope decides where it may be placed."""
    if not user_can(actor, User, ADD):
        raise PermissionDenied(_("You may not do this."))
    check_role(actor, data)
    attributes = ("username", "first_name", "last_name", "email")
    check_password(password, User(**{k: data.get(k) or "" for k in attributes}))
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
    check_password(password, user)
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


# --- sign-in: lock-out and two-factor (accounts/lockout.py, accounts/twofactor.py) --------


def may_manage_sign_in(actor, user: User) -> bool:
    """Police administrators (for the users of their station) and platform operators lift
    sign-in locks and reset two-factor sign-in."""
    if not getattr(actor, "is_authenticated", False):
        return False
    if not (actor.is_superuser or actor.role == Role.POLICE_ADMIN):
        return False
    return User.objects.restrict(actor, CHANGE).filter(pk=user.pk).exists()


def unlock_sign_in(actor, user: User, *, remote_addr=None) -> None:
    """Forget the user name's failed sign-ins from every address, and its wrong codes."""
    from anyuan.accounts import lockout, twofactor

    if not may_manage_sign_in(actor, user):
        raise PermissionDenied(_("Only a police administrator may unlock sign-in."))
    with transaction.atomic():
        cleared = lockout.clear_user(user.username)
        twofactor.clear_failures(user)
        audit.record(
            actor,
            AuditAction.LOGIN_UNLOCKED,
            user,
            after={"failure_records_cleared": cleared},
            remote_addr=remote_addr,
        )


def reset_two_factor(actor, user: User, *, remote_addr=None) -> None:
    """Remove the user's authenticator and recovery codes: the next sign-in enrols anew,
    and the user's sessions that passed the second factor with them no longer count."""
    from django_otp import devices_for_user

    from anyuan.accounts import twofactor

    if not may_manage_sign_in(actor, user):
        raise PermissionDenied(_("Only a police administrator may reset two-factor sign-in."))
    with transaction.atomic():
        removed = 0
        for device in list(devices_for_user(user, confirmed=None)):
            device.delete()
            removed += 1
        twofactor.clear_failures(user)
        audit.record(
            actor,
            AuditAction.TWO_FACTOR,
            user,
            after={"event": "reset", "devices_removed": removed},
            remote_addr=remote_addr,
        )


def start_enrolment(user: User):
    """The user's authenticator waiting for confirmation (made once, kept until confirmed,
    so that reloading the page shows the same QR code). None when one is confirmed."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from anyuan.accounts import twofactor

    if twofactor.enrolled(user):
        return None
    device = twofactor.authenticator(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=twofactor.AUTHENTICATOR, confirmed=False)
    return device


def _wrong_code(user: User, remote_addr) -> None:
    """Count a wrong code; audit the lock it may start; raise the field error."""
    from anyuan.accounts import twofactor

    if twofactor.count_failure(user):
        audit.record(
            None,
            AuditAction.LOGIN_LOCKED,
            user,
            after={"username": user.username, "locked_by": ["second_factor"]},
            remote_addr=remote_addr,
        )
    raise actions.ValidationFailed({"code": [_("The code is not right.")]})


def _refuse_if_throttled(user: User) -> None:
    from anyuan.accounts import twofactor

    if twofactor.throttled(user):
        raise actions.ValidationFailed(
            {
                "code": [
                    _(
                        "Too many wrong codes. Wait %(minutes)s minutes or ask your police "
                        "administrator to unlock your sign-in."
                    )
                    % {"minutes": settings.ANYUAN_2FA_WINDOW_MINUTES}
                ]
            }
        )


def confirm_enrolment(user: User, device, code: str, *, remote_addr=None) -> list[str]:
    """Confirm the authenticator with a code from it; returns the new recovery codes."""
    from django_otp import verify_token

    from anyuan.accounts import twofactor

    _refuse_if_throttled(user)
    code = twofactor.normalise(code)
    if device is None or device.user_id != user.pk or device.confirmed:
        raise actions.ValidationFailed({"code": [_("Start the set-up again.")]})
    with transaction.atomic():
        accepted = twofactor.is_totp_code(code) and verify_token(user, device.persistent_id, code)
        if accepted:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            type(device).objects.filter(user=user).exclude(pk=device.pk).delete()
            codes = twofactor.new_recovery_codes(user)
            twofactor.clear_failures(user)
            audit.record(
                user,
                AuditAction.TWO_FACTOR,
                user,
                after={"event": "enrolled", "recovery_codes": len(codes)},
                remote_addr=remote_addr,
            )
            return codes
    _wrong_code(user, remote_addr)
    return []  # not reached


def verify_second_factor(user: User, code: str, *, remote_addr=None):
    """The device that accepts ``code`` — the authenticator's current code, or an unused
    recovery code (used up by this); a field error otherwise. Wrong codes are counted."""
    from django_otp import verify_token

    from anyuan.accounts import twofactor

    _refuse_if_throttled(user)
    code = twofactor.normalise(code)
    if twofactor.is_totp_code(code):
        device = twofactor.authenticator(user)
        if device is not None and verify_token(user, device.persistent_id, code):
            twofactor.clear_failures(user)
            return device
    elif code:
        recovery = twofactor.recovery_device(user)
        if recovery is not None:
            with transaction.atomic():
                accepted = verify_token(user, recovery.persistent_id, code)
                if accepted:
                    audit.record(
                        user,
                        AuditAction.TWO_FACTOR,
                        user,
                        after={
                            "event": "recovery code used",
                            "recovery_codes_left": twofactor.recovery_codes_left(user),
                        },
                        remote_addr=remote_addr,
                    )
            if accepted:
                twofactor.clear_failures(user)
                return accepted
    _wrong_code(user, remote_addr)
    return None  # not reached


def regenerate_recovery_codes(user: User, *, remote_addr=None) -> list[str]:
    """New recovery codes for oneself (the old ones stop working); shown once."""
    from anyuan.accounts import twofactor

    if not twofactor.enrolled(user):
        raise actions.ValidationFailed({"code": [_("Set up two-factor sign-in first.")]})
    with transaction.atomic():
        codes = twofactor.new_recovery_codes(user)
        audit.record(
            user,
            AuditAction.TWO_FACTOR,
            user,
            after={"event": "recovery codes regenerated", "recovery_codes": len(codes)},
            remote_addr=remote_addr,
        )
    return codes
