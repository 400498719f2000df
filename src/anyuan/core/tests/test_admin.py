"""Records the platform writes through its actions (audit, event log, alerts, cases,
incidents, rollups, live messages, trace runs) are read-only in the Django admin."""

from django.contrib import admin

from anyuan.core.admin import ReadOnlyAdmin

RECORD_APPS = {"core", "events", "alerts", "disputes", "incidents", "dashboard", "live", "tracing"}


def test_every_record_admin_is_read_only(rf):
    registered = {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in RECORD_APPS
    }
    assert len(registered) >= 14
    request = rf.get("/")
    for model, model_admin in registered.items():
        assert isinstance(model_admin, ReadOnlyAdmin), model
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
