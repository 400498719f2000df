"""Dispute cases, warnings and warning information in the Django admin (platform operators
only): read-only. People file and move cases, and report warning information, through the
pages and the API, where every step is an audited action and a line of the case's history;
the parties' phones stay masked and their access codes are never shown (only a hash is kept).
"""

from django.contrib import admin

from anyuan.core.admin import ReadOnlyAdmin
from anyuan.disputes.models import (
    Case,
    CaseAttachment,
    CaseParty,
    CaseTransition,
    GroupWarning,
    WarningInfo,
)


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "reported_at", "type", "severity", "tier", "state", "enterprise",
                    "due_close", "breaches"]  # fmt: skip
    list_filter = ["state", "tier", "type", "severity"]
    search_fields = ["number", "summary", "reporter_name"]
    raw_id_fields = ["station", "enterprise", "grid", "zone", "reported_by", "reporter"]
    date_hierarchy = "reported_at"


@admin.register(CaseParty)
class CasePartyAdmin(ReadOnlyAdmin):
    list_display = ["case", "kind", "name", "code_issued_at", "satisfaction"]
    list_filter = ["kind"]
    search_fields = ["name", "case__number"]
    raw_id_fields = ["case", "person"]
    exclude = ["phone", "phone_digest"]


@admin.register(CaseTransition)
class CaseTransitionAdmin(ReadOnlyAdmin):
    list_display = ["at", "case", "name", "source", "target", "tier_to", "actor_name", "breach"]
    list_filter = ["name", "breach"]
    search_fields = ["case__number", "actor_name"]
    raw_id_fields = ["case", "actor"]


@admin.register(CaseAttachment)
class CaseAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["uploaded_at", "case", "kind", "name", "size"]
    list_filter = ["kind"]
    search_fields = ["name", "case__number"]
    raw_id_fields = ["case", "uploaded_by"]
    exclude = ["file"]  # downloaded only through the scoped page


@admin.register(GroupWarning)
class GroupWarningAdmin(ReadOnlyAdmin):
    list_display = ["last_at", "type", "reason", "enterprise", "case_count", "alert"]
    list_filter = ["type", "reason"]
    raw_id_fields = ["station", "enterprise", "cases", "alert"]


@admin.register(WarningInfo)
class WarningInfoAdmin(ReadOnlyAdmin):
    list_display = ["reported_at", "title", "category", "source", "level", "enterprise",
                    "verified"]  # fmt: skip
    list_filter = ["category", "source", "level", "verified"]
    search_fields = ["title"]
    raw_id_fields = ["station", "enterprise", "reported_by", "reporter", "cases"]
