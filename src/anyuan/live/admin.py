"""Live messages in the Django admin (platform operators only), read-only: they are
written by the platform and pruned after ``ANYUAN_LIVE_KEEP_S``."""

from django.contrib import admin

from anyuan.core.admin import ScopedAdmin
from anyuan.live.models import LiveMessage


@admin.register(LiveMessage)
class LiveMessageAdmin(ScopedAdmin):
    list_display = ["id", "created", "topic", "station", "enterprise"]
    list_filter = ["topic"]
    raw_id_fields = ["station", "enterprise"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
