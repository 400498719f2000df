"""Generic state changes shared by every app: create, update, delete, reveal, export.

Each runs in one transaction, checks the actor's permission and scope (before *and* after
the change, so nothing can be moved out of the actor's reach), validates the object, writes
one audit record and publishes a live event on commit. Apps' own ``actions.py`` build on
these; views and API endpoints never save models themselves.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from anyuan.core import audit
from anyuan.core.events import publish_on_commit
from anyuan.core.models import AuditAction
from anyuan.core.personal import EncryptedField, Sealed, encrypted_fields
from anyuan.core.personal import plain as plain_value
from anyuan.core.roles import ADD, CHANGE, DELETE, EXPORT, REVEAL, VIEW, locked_fields, user_can


class ValidationFailed(Exception):
    """Input that cannot be accepted; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def _require(actor, model, action):
    if not user_can(actor, model, action):
        raise PermissionDenied(_("You may not do this."))


def _require_in_scope(actor, obj, action):
    if not type(obj).objects.restrict(actor, action).filter(pk=obj.pk).exists():
        raise PermissionDenied(_("This object is outside your scope."))


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return any(_has_nul(v) for v in value)
    return False


def check_text(data: dict) -> None:
    """Refuse NUL characters, which PostgreSQL cannot keep in a text or JSON column."""
    bad = [key for key, value in data.items() if _has_nul(value)]
    if bad:
        raise ValidationFailed({key: [_("Text may not contain NUL characters.")] for key in bad})


DB_INT_MAX = 2**63 - 1  # the widest integer column (bigint) of every supported database


def _is_db_id(value) -> bool:
    """An id a primary-key column can hold: a positive int (or string of digits) ≤ bigint."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= DB_INT_MAX


def check_references(actor, model, data: dict) -> None:
    """Every object ``data`` points at must exist and be visible to ``actor``."""
    errors = {}
    for field in model._meta.get_fields():
        if not (field.is_relation and field.concrete):
            continue
        for key in {field.name, getattr(field, "attname", field.name)}:
            if key not in data:
                continue
            value = data[key]
            if field.many_to_many and value is None:
                errors[field.name] = [_("Give a list of ids (an empty list for none).")]
                continue
            if value in (None, ""):
                continue
            values = list(value) if field.many_to_many else [value]
            ids = [getattr(v, "pk", v) for v in values]
            if not all(_is_db_id(i) for i in ids):
                # not an id at all, or one no database column can hold (a query with it
                # would fail in the database driver)
                errors[field.name] = [_("Unknown reference.")]
                continue
            related = field.related_model
            if not hasattr(related, "scope"):
                continue
            visible = related.objects.restrict(actor, VIEW).filter(pk__in=ids).count()
            if visible != len(set(ids)):
                errors[field.name] = [_("Unknown reference.")]
    if errors:
        raise ValidationFailed(errors)


def full_clean(obj, exclude=None) -> None:
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as e:
        raise ValidationFailed(
            {k: [str(m) for m in v] for k, v in e.message_dict.items()}
        ) from None


def _split(model, data: dict) -> tuple[dict, dict]:
    """(column values, many-to-many values); a foreign key or one-to-one field given as an
    id is set by id."""
    m2m_names = {f.name for f in model._meta.many_to_many}
    fk_attnames = {
        f.name: f.attname for f in model._meta.concrete_fields if f.many_to_one or f.one_to_one
    }
    plain = {}
    for k, v in data.items():
        if k in m2m_names:
            continue
        if k in fk_attnames and not isinstance(v, models.Model):
            k = fk_attnames[k]
        plain[k] = v
    m2m = {k: v for k, v in data.items() if k in m2m_names}
    return plain, m2m


def _auto_now_fields(model) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]


def _save(obj, m2m: dict):
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as e:
        raise ValidationFailed(
            {"__all__": [_("Conflicts with an existing record: %s") % e]}
        ) from None
    for name, values in m2m.items():
        getattr(obj, name).set(values)


def create(actor, model, data: dict, *, remote_addr=None, event=True) -> models.Model:
    _require(actor, model, ADD)
    check_text(data)
    check_references(actor, model, data)
    plain, m2m = _split(model, data)
    with transaction.atomic():
        obj = model(**plain)
        full_clean(obj)
        _save(obj, m2m)
        _require_in_scope(actor, obj, ADD)
        audit.record(
            actor, AuditAction.CREATE, obj, after=audit.snapshot(obj), remote_addr=remote_addr
        )
        if event:
            publish_on_commit(f"{model._meta.label_lower}.created", {"id": obj.pk})
    return obj


def update(actor, obj, data: dict, *, remote_addr=None) -> models.Model:
    model = type(obj)
    _require(actor, model, CHANGE)
    _require_in_scope(actor, obj, CHANGE)
    check_text(data)
    check_references(actor, model, data)
    plain, m2m = _split(model, data)
    locked = locked_fields(actor, model)
    refused = {}
    for key, value in plain.items():
        name = key[:-3] if key.endswith("_id") and key[:-3] in locked else key
        current = getattr(obj, key)
        if name in locked and getattr(value, "pk", value) != getattr(current, "pk", current):
            refused[name] = [_("You may not change this field.")]
    if refused:
        raise ValidationFailed(refused)
    with transaction.atomic():
        before = audit.snapshot(obj)
        personal_before = {
            f.name: plain_value(getattr(obj, f.name)) for f in encrypted_fields(model)
        }
        for key, value in plain.items():
            setattr(obj, key, value)
        full_clean(obj)
        _save(obj, m2m)
        _require_in_scope(actor, obj, CHANGE)
        after = audit.snapshot(obj)
        old, new = audit.diff(before, after)
        for name, value in personal_before.items():
            # a new number can have the same masked form (139****0121): still a change
            if name not in new and plain_value(getattr(obj, name)) != value:
                old[name], new[name] = before.get(name), after.get(name)
        for name in _auto_now_fields(model):  # a timestamp alone is no change
            old.pop(name, None)
            new.pop(name, None)
        if new:
            audit.record(
                actor, AuditAction.UPDATE, obj, before=old, after=new, remote_addr=remote_addr
            )
            publish_on_commit(f"{model._meta.label_lower}.updated", {"id": obj.pk})
    return obj


def delete(actor, obj, *, remote_addr=None) -> None:
    model = type(obj)
    _require(actor, model, DELETE)
    _require_in_scope(actor, obj, DELETE)
    with transaction.atomic():
        before = audit.snapshot(obj)
        pk, text = obj.pk, str(obj)
        try:
            with transaction.atomic():
                obj.delete()
        except ProtectedError as e:
            kinds = sorted({str(o._meta.verbose_name) for o in e.protected_objects})
            raise ValidationFailed(
                {"__all__": [_("Still in use by: %s") % ", ".join(kinds)]}
            ) from None
        audit.record(
            actor,
            AuditAction.DELETE,
            object_type=model._meta.label_lower,
            object_id=pk,
            object_repr=text,
            before=before,
            remote_addr=remote_addr,
            station_id=before.get("station"),
            enterprise_id=before.get("enterprise"),
        )
        publish_on_commit(f"{model._meta.label_lower}.deleted", {"id": pk})


def reveal(actor, obj, field_name: str, reason: str, *, remote_addr=None) -> str:
    """The plaintext of one personal-data field, for a stated reason, audited."""
    model = type(obj)
    field = model._meta.get_field(field_name)
    if not isinstance(field, EncryptedField):
        raise ValidationFailed({"field": [_("This field holds no personal data.")]})
    reason = (reason or "").strip()
    check_text({"reason": reason})
    if len(reason) < 4:
        raise ValidationFailed(
            {"reason": [_("Say why you need to see this (at least 4 characters).")]}
        )
    _require(actor, model, REVEAL)
    _require_in_scope(actor, obj, REVEAL)
    value = getattr(obj, field_name)
    with transaction.atomic():
        audit.record(
            actor,
            AuditAction.REVEAL,
            obj,
            after={"field": field_name},
            reason=reason,
            remote_addr=remote_addr,
        )
    return value.reveal() if isinstance(value, Sealed) else ""


def record_export(
    actor, model, *, count: int, fmt: str, personal: bool, reason="", remote_addr=None
):
    """Check and audit an export of ``count`` rows; ``personal`` = unmasked personal data."""
    _require(actor, model, EXPORT)
    check_text({"reason": reason})
    if personal:
        _require(actor, model, REVEAL)
        if len((reason or "").strip()) < 4:
            raise ValidationFailed({"reason": [_("Say why you need personal data in clear.")]})
    return audit.record(
        actor,
        AuditAction.EXPORT,
        object_type=model._meta.label_lower,
        object_repr=f"{count} × {model._meta.verbose_name_plural} ({fmt})",
        after={"count": count, "format": fmt, "personal": personal},
        reason=reason,
        remote_addr=remote_addr,
    )
