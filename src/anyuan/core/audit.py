"""Audit records: who did what to which object, when, with before/after snapshots.

Snapshots never hold personal data in clear: encrypted fields, and the values a model
declares derived from them (``disclosure.derived``), appear masked. Who reported what
(``disclosure.police_only``) is kept for the police; :func:`disclosed` takes it out of a
snapshot shown to anyone else.
"""

import datetime as dt
import decimal
import uuid

from django.db import models

from anyuan.core import personal
from anyuan.core.models import AuditEntry
from anyuan.core.personal import EncryptedField, RowKeyField, Sealed, mask
from anyuan.core.scoping import owner_ids
from anyuan.core.system import SystemActor


def _jsonable(value):
    if isinstance(value, Sealed):
        return value.masked
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | set):
        return sorted(_jsonable(v) for v in value)
    return value


def snapshot(obj: models.Model) -> dict:
    data = {}
    derived = personal.derived_names(type(obj))
    for field in obj._meta.concrete_fields:
        if field.name.endswith("_digest") or field.name in ("token_digest", "password"):
            continue
        if isinstance(field, RowKeyField):
            continue
        value = getattr(obj, field.attname)
        if isinstance(field, EncryptedField) and value and not isinstance(value, Sealed):
            # personal data set in clear on an object not yet cleaned or reloaded
            value = mask(field.kind, str(value))
        if field.name in derived:
            value = personal.mask_derived(value)
        data[field.name] = _jsonable(value)
    if obj.pk:
        for field in obj._meta.many_to_many:
            data[field.name] = sorted(getattr(obj, field.attname).values_list("pk", flat=True))
    return data


def disclosed(user, object_type: str, data):
    """A snapshot as ``user`` may see it: without the police-only fields of its model."""
    from django.apps import apps

    if not isinstance(data, dict) or not object_type:
        return data
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return data
    hidden = personal.hidden_names(user, model, data)
    return {k: v for k, v in data.items() if k not in hidden} if hidden else data


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    actor,
    action: str,
    obj: models.Model | None = None,
    *,
    object_type: str = "",
    object_id="",
    object_repr: str = "",
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    remote_addr: str | None = None,
    station_id=None,
    enterprise_id=None,
) -> AuditEntry:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)[:200]
        if hasattr(type(obj), "scope"):
            own_station, own_enterprise = owner_ids(obj)
            station_id = station_id or own_station
            enterprise_id = enterprise_id or own_enterprise
    if isinstance(actor, SystemActor):
        actor_obj, actor_name = None, actor.get_username()
    elif actor is not None and getattr(actor, "is_authenticated", False):
        station_id = station_id or actor.station_id
        if actor.enterprise_id and not enterprise_id:
            enterprise_id = actor.enterprise_id
        actor_obj, actor_name = actor, actor.get_username()
    else:
        actor_obj, actor_name = None, getattr(actor, "name", "") or "system"
    return AuditEntry.objects.create(
        actor=actor_obj,
        actor_name=actor_name,
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        object_repr=object_repr,
        before=before,
        after=after,
        reason=reason,
        remote_addr=remote_addr,
        station_id=station_id,
        enterprise_id=enterprise_id,
    )
