"""Read-only access to the audit log (police admins, scoped to their station)."""

from datetime import datetime
from typing import Any

from ninja import Router, Schema

from anyuan.core import audit
from anyuan.core.api import DbInt, crud
from anyuan.core.models import AuditEntry

router = Router()


class AuditOut(Schema):
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    before: Any = None
    after: Any = None
    reason: str

    @staticmethod
    def resolve_before(obj, context):
        return audit.disclosed(context["request"].auth, obj.object_type, obj.before)

    @staticmethod
    def resolve_after(obj, context):
        return audit.disclosed(context["request"].auth, obj.object_type, obj.after)


class AuditFilters(Schema):
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor: DbInt | None = None


crud(router, AuditEntry, out=AuditOut, filters=AuditFilters, path="/entries", delete=False)
