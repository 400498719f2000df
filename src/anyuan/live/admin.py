"""Live messages in the Django admin (platform operators only), read-only: they are
written by the platform and pruned after ``ANYUAN_LIVE_KEEP_S``."""

from django.contrib import admin

from anyuan.core.admin import ReadOnlyAdmin
from anyuan.live.models import LiveMessage


@admin.register(LiveMessage)
class LiveMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "created", "topic", "station", "enterprise"]
    list_filter = ["topic"]
    raw_id_fields = ["station", "enterprise"]
