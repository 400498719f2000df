"""The audit log: every create, update, delete, reveal, import and export."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from anyuan.core.scoping import Scope, ScopedQuerySet

# The longest reason (for a reveal, an export, a trace) the audit log keeps; longer ones are
# refused with a field-level message, never cut.
REASON_MAX_LENGTH = 2000


class AuditAction(models.TextChoices):
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    REVEAL = "reveal", _("Reveal personal data")
    EXPORT = "export", _("Export")
    IMPORT = "import", _("Import")
    TOKEN = "token", _("Issue token")
    LOGIN_LOCKED = "login_locked", _("Login locked")
    LOGIN_UNLOCKED = "login_unlocked", _("Sign-in unlocked")
    TWO_FACTOR = "two_factor", _("Two-factor sign-in")
    SEARCH = "search", _("Search by personal data")
    ROTATE_KEYS = "rotate_keys", _("Re-encrypt personal data")


class AuditEntry(models.Model):
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(_("object type"), max_length=100, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True, max_length=REASON_MAX_LENGTH)
    remote_addr = models.GenericIPAddressField(_("address"), null=True, blank=True)
    station = models.ForeignKey(
        "registry.Station",
        verbose_name=_("station"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="station", enterprise="enterprise")

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}"


class RateCounter(models.Model):
    """Attempts counted per key in a window (``core/ratelimit.py``), shared by every
    process of a site."""

    key = models.CharField(max_length=200, primary_key=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("rate counter")
        verbose_name_plural = _("rate counters")

    def __str__(self):
        return f"{self.key}: {self.count}"


class ScheduledJob(models.Model):
    """The state of one periodic job (``core/scheduler.py``), shared by every process of a
    site: when it last ran and how, when it runs next, and its lease — the row a run takes
    (``lease_until`` in the future) so that no two processes run the job at once."""

    name = models.CharField(_("job"), max_length=100, primary_key=True)
    next_run = models.DateTimeField(_("next run"), null=True, blank=True)
    last_started = models.DateTimeField(_("last started"), null=True, blank=True)
    last_finished = models.DateTimeField(_("last finished"), null=True, blank=True)
    last_success = models.DateTimeField(_("last success"), null=True, blank=True)
    last_duration_s = models.FloatField(_("last duration (s)"), null=True, blank=True)
    last_result = models.CharField(_("last result"), max_length=200, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    runs = models.PositiveIntegerField(_("runs"), default=0)
    failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    lease_owner = models.CharField(_("lease held by"), max_length=200, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)

    class Meta:
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")

    def __str__(self):
        return self.name
