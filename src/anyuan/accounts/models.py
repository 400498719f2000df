"""Users with one role and one place (station, enterprise or own person record), and API tokens."""

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from anyuan.core.roles import ENTERPRISE_ROLES, PERSONAL_ROLES, POLICE_ROLES, Role, is_police
from anyuan.core.scoping import Scope, ScopedQuerySet


class ScopedUserManager(UserManager.from_queryset(ScopedQuerySet)):
    pass


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, blank=True)
    station = models.ForeignKey(
        "registry.Station",
        verbose_name=_("station"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    person = models.ForeignKey(
        "registry.Person",
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="users",
    )
    language = models.CharField(_("language"), max_length=10, blank=True)

    objects = ScopedUserManager()
    # which accounts a role reaches at all: core.roles.MANAGED_BY
    scope = Scope(station="station", enterprise="enterprise", person="person", role="role")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def clean(self):
        super().clean()
        if self.is_superuser:
            return
        if not self.role:
            raise ValidationError({"role": _("Every user has a role.")})
        if self.role in POLICE_ROLES and (not self.station_id or self.enterprise_id):
            raise ValidationError(
                {"station": _("Police users belong to a station, not an enterprise.")}
            )
        if self.role in ENTERPRISE_ROLES and not self.enterprise_id:
            raise ValidationError({"enterprise": _("Enterprise users belong to an enterprise.")})
        if self.role in PERSONAL_ROLES and not self.person_id:
            raise ValidationError(
                {"person": _("Informants and employees are linked to their person record.")}
            )
        if self.role == Role.PARTNER and (not self.station_id or self.enterprise_id):
            raise ValidationError(
                {"station": _("Mediation partners belong to a station, not an enterprise.")}
            )
        if self.role == Role.PARTNER and self.person_id:
            raise ValidationError({"person": _("Mediation partners have no person record.")})
        if (
            self.role in PERSONAL_ROLES
            and self.role != Role.INFORMANT
            and self.person_id
            and hasattr(self.person, "informant")  # the registry's 信息员 record
        ):
            # an employee sign-in for an informant would follow the informant's reports;
            # informants' accounts are the police's (core.roles.MANAGED_BY)
            raise ValidationError(
                {"role": _("This person is an informant: their account is an informant account.")}
            )
        if self.enterprise_id:
            self.station_id = self.enterprise.station_id
        if self.person_id and self.role in PERSONAL_ROLES:
            self.station_id = self.person.station_id
            self.enterprise_id = self.person.enterprise_id

    def set_unusable_password(self):
        super().set_unusable_password()
        self._password_dropped = True

    def save(self, *args, **kwargs):
        # a new password (set_password: every form, the admin, ``changepassword``) or none
        # at all ends every API token of the user; a re-hash at sign-in (Django clears
        # ``_password`` first) does not. Sessions end by Django's session hash.
        changed = self.pk is not None and (
            self._password is not None or getattr(self, "_password_dropped", False)
        )
        with transaction.atomic():
            super().save(*args, **kwargs)
            self._password_dropped = False
            if changed:
                self.tokens_revoked = ApiToken.revoke_all(self)

    @property
    def is_police(self) -> bool:
        return is_police(self)  # core.roles: police roles and platform operators

    @property
    def is_enterprise(self) -> bool:
        return self.role in ENTERPRISE_ROLES


class ApiToken(models.Model):
    """A bearer token acting as its user (scoped like that user); stored hashed."""

    PREFIX = "ayu"

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    key_prefix = models.CharField(_("key prefix"), max_length=16, unique=True, editable=False)
    key_digest = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    expires = models.DateTimeField(_("expires"))
    revoked = models.BooleanField(_("revoked"), default=False)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(
        station="user__station", enterprise="user__enterprise", own="user", role="user__role"
    )

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created"]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def new_key(cls) -> tuple[str, str, str]:
        """(full key shown once, prefix, digest)."""
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        key = f"{cls.PREFIX}_{prefix}_{secret}"
        return key, prefix, cls.hash(key)

    @staticmethod
    def ttl() -> dt.timedelta:
        """How long a token lives at most (``ANYUAN_TOKEN_TTL_DAYS``)."""
        return dt.timedelta(days=settings.ANYUAN_TOKEN_TTL_DAYS)

    @classmethod
    def user_for_key(cls, key: str, *, touch: bool = True):
        """The active user an unrevoked, unexpired ``key`` acts as, or None; ``touch``
        records the use. The one check of a bearer token (API and live stream)."""
        if not key:
            return None
        now = timezone.now()
        token = (
            cls.objects.select_related("user")
            .filter(key_digest=cls.hash(key), revoked=False, expires__gt=now)
            .first()
        )
        if token is None or not token.user.is_active:
            return None
        if touch:
            cls.objects.filter(pk=token.pk).update(last_used=now)
        return token.user

    @classmethod
    def revoke_all(cls, user) -> int:
        """Revoke every live token of ``user``; how many."""
        return cls.objects.filter(user=user, revoked=False).update(revoked=True)
