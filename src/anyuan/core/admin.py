"""Django admin for platform operators (superusers only), read-only for every model of ours;
querysets still go through restrict()."""

from django.contrib import admin

from anyuan.core.models import AuditEntry


class ScopedAdmin(admin.ModelAdmin):
    """Every model of ours: operators (superusers) may look, never add, change or delete.
    Changes go through the pages and the API, that is through the actions (checks, one
    audit entry, live events); an admin save would bypass them all."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def get_queryset(self, request):
        return self.model.objects.restrict(request.user, "view")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Records the platform writes (logs, audit, alerts, cases): the same, by its older name.
ReadOnlyAdmin = ScopedAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "reason"]
