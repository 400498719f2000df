"""Django admin for platform operators (superusers only); querysets still go through restrict()."""

from django.contrib import admin

from anyuan.core.models import AuditEntry


class ScopedAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def get_queryset(self, request):
        return self.model.objects.restrict(request.user, "view")


class ReadOnlyAdmin(ScopedAdmin):
    """For records the platform writes through its actions (logs, audit, alerts, cases):
    operators may look, never add, change or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "reason"]
