"""The Django admin is read-only for every model of ours: records the platform writes
(audit, event log, alerts, cases, incidents, rollups, live messages, trace runs) and the
registry and accounts alike. Changes go through the pages and the API, whose actions check,
audit and publish; an admin save would do none of that."""

import pytest
from django.contrib import admin
from django.urls import reverse

from anyuan.core.admin import ScopedAdmin


def our_admins():
    return {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if model.__module__.startswith("anyuan.")
    }


@pytest.fixture
def operator(db):
    from anyuan.accounts.models import User

    return User.objects.create_superuser("operator", password="Operator-pass-2026!")


def test_every_admin_of_ours_is_read_only_even_for_a_superuser(rf, operator):
    registered = our_admins()
    apps = {model._meta.app_label for model in registered}
    assert {"core", "accounts", "registry", "events", "alerts", "disputes"} <= apps
    assert len(registered) >= 30
    request = rf.get("/")
    request.user = operator
    for model, model_admin in registered.items():
        assert isinstance(model_admin, ScopedAdmin), model
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model
        assert model_admin.has_view_permission(request), model


def test_a_superuser_cannot_save_or_delete_through_the_admin(client, operator, world):
    """As an operator would try it: the add page, a change POST and a delete POST of a
    registry row and a user are refused, and nothing changes."""
    from anyuan.accounts.models import User
    from anyuan.core.models import AuditEntry

    client.force_login(operator)
    enterprise = world.own.enterprise
    user = User.objects.get(username="enterprise_admin")
    before = AuditEntry.objects.count()
    assert client.get(reverse("admin:registry_enterprise_add")).status_code == 403
    change = reverse("admin:registry_enterprise_change", args=[enterprise.pk])
    assert client.get(change).status_code == 200  # may look
    assert client.post(change, {"name": "改名"}).status_code == 403
    delete = reverse("admin:registry_enterprise_delete", args=[enterprise.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    user_change = reverse("admin:accounts_user_change", args=[user.pk])
    r = client.post(user_change, {"username": user.username, "role": "police_admin"})
    assert r.status_code == 403
    password = reverse("admin:auth_user_password_change", args=[user.pk])
    r = client.post(password, {"password1": "Taken-over-2026!", "password2": "Taken-over-2026!"})
    assert r.status_code == 403
    enterprise.refresh_from_db()
    user.refresh_from_db()
    assert enterprise.name != "改名"
    assert user.role == "enterprise_admin"
    assert user.check_password(world.password)
    assert AuditEntry.objects.count() == before
