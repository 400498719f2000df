"""Users with one role and one place (station, enterprise or own person record), and API tokens."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
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
    scope = Scope(station="station", enterprise="enterprise", person="person")

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
        if self.enterprise_id:
            self.station_id = self.enterprise.station_id
        if self.person_id and self.role in PERSONAL_ROLES:
            self.station_id = self.person.station_id
            self.enterprise_id = self.person.enterprise_id

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
    expires = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="user__station", enterprise="user__enterprise", own="user")

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
