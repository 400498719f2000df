"""Generic state changes shared by every app: create, update, delete, reveal, export.

Each runs in one transaction, checks the actor's permission and scope (before *and* after
the change, so nothing can be moved out of the actor's reach), validates the object, writes
one audit record and publishes a live event on commit. Apps' own ``actions.py`` build on
these; views and API endpoints never save models themselves.
"""

import contextlib
import re

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from anyuan.core import audit, identifiers, ratelimit
from anyuan.core.events import publish_on_commit
from anyuan.core.models import REASON_MAX_LENGTH, AuditAction
from anyuan.core.personal import (
    DigestField,
    Sealed,
    digest,
    encrypted_fields,
    is_personal,
    mask,
    normalize,
)
from anyuan.core.personal import plain as plain_value
from anyuan.core.roles import ADD, CHANGE, DELETE, EXPORT, REVEAL, VIEW, locked_fields, user_can
from anyuan.core.text import has_control_characters


class ValidationFailed(Exception):
    """Input that cannot be accepted; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class RateLimited(PermissionDenied):
    """Too many attempts of something counted per user (``core/ratelimit.py``); answered
    429 with ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def within_limit(actor, what: str, setting: tuple[int, int], message: str) -> None:
    """Count one attempt of ``what`` by ``actor``; :class:`RateLimited` past the declared
    ``(limit, window seconds)``. Shared by every process (counted in the database)."""
    limit, window = setting
    if not ratelimit.hit(f"{what}:user:{getattr(actor, 'pk', None)}", limit, window):
        raise RateLimited(message % {"minutes": max(window // 60, 1)}, window)


def not_saved() -> str:
    """The one answer when a value is already taken (here or by a record out of the actor's
    reach): it does not say which, nor name the database constraint that refused it."""
    return _(
        "This record cannot be saved with this value; check it, or contact the police station."
    )


def _require(actor, model, action):
    if not user_can(actor, model, action):
        raise PermissionDenied(_("You may not do this."))


def _require_in_scope(actor, obj, action):
    if not type(obj).objects.restrict(actor, action).filter(pk=obj.pk).exists():
        raise PermissionDenied(_("This object is outside your scope."))


CONTROL_CHARACTERS_MESSAGE = gettext_lazy(
    "Text may not contain control characters (such as NUL, or invisible characters "
    "pasted from another program)."
)


def check_text(data: dict) -> None:
    """Refuse control characters (``core/text.py``: NUL, which PostgreSQL cannot keep, and
    the others no spreadsheet can hold) in any text of ``data``, with a message per field.
    Every action passes its input through here."""
    bad = [key for key, value in data.items() if has_control_characters(value)]
    if bad:
        raise ValidationFailed({key: [str(CONTROL_CHARACTERS_MESSAGE)] for key in bad})


NULL_MESSAGE = gettext_lazy("This field cannot be empty.")


def _column_field(model, key: str):
    for field in model._meta.concrete_fields:
        if key in (field.name, field.attname):
            return field
    return None


def check_nulls(model, data: dict) -> None:
    """Refuse a null for a field the database holds as NOT NULL, with a message on the
    field (never the constraint the database would have refused it with)."""
    bad = []
    for key, value in data.items():
        field = _column_field(model, key) if value is None else None
        if field is not None and not field.null:
            bad.append(field.name)
    if bad:
        raise ValidationFailed({name: [str(NULL_MESSAGE)] for name in bad})


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


def _blamed(model, names) -> list[str]:
    """The input fields to put a uniqueness message on: a digest's source, not the scope
    (station, enterprise) the value is unique within."""
    fields = [model._meta.get_field(n) for n in names]
    out = [f.source if isinstance(f, DigestField) else f.name for f in fields if not f.is_relation]
    return out or [f.name for f in fields] or [NON_FIELD_ERRORS]


def _taken(obj, exclude: set) -> dict[str, list[str]]:
    """Fields whose value another record already holds (unique fields, unique constraints),
    each with the one neutral message; other constraints with a message naming none."""
    model = type(obj)
    errors: dict[str, list[str]] = {}
    try:
        obj.validate_unique(exclude=exclude)
    except ValidationError as e:
        for name in e.message_dict:
            for blamed in _blamed(model, [] if name == NON_FIELD_ERRORS else [name]):
                errors.setdefault(blamed, [not_saved()])
    for parent, constraints in obj.get_constraints():
        for constraint in constraints:
            try:
                constraint.validate(parent, obj, exclude=exclude)
            except ValidationError:
                if isinstance(constraint, models.UniqueConstraint):
                    for blamed in _blamed(model, constraint.fields):
                        errors.setdefault(blamed, [not_saved()])
                else:
                    errors.setdefault(NON_FIELD_ERRORS, [_("These values do not fit together.")])
    return errors


def full_clean(obj, exclude=None) -> None:
    """The model's rules, as field-level messages; a value already taken gets the one
    neutral message (:func:`not_saved`) on its field."""
    errors: dict[str, list[str]] = {}
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as e:
        errors = {k: [str(m) for m in v] for k, v in e.message_dict.items()}
    for f in obj._meta.concrete_fields:  # digests take part in unique constraints
        if isinstance(f, DigestField) and f.source not in errors:
            with contextlib.suppress(identifiers.IdentifierError):  # the field says why
                setattr(obj, f.attname, f.compute(obj))
    skip = set(exclude or ()) | {k for k in errors if k != NON_FIELD_ERRORS}
    for name, messages in _taken(obj, skip).items():
        errors.setdefault(name, []).extend(m for m in messages if m not in errors[name])
    if errors:
        raise ValidationFailed(errors)


def _null_fields(model, text: str) -> list[str]:
    """The fields a NOT NULL refusal by the database is about (SQLite: "NOT NULL constraint
    failed: table.column"; PostgreSQL: 'null value in column "column" ... violates
    not-null constraint')."""
    table = model._meta.db_table
    if "NOT NULL" not in text and "not-null" not in text:
        return []
    return [
        f.source if isinstance(f, DigestField) else f.name  # the field the user wrote
        for f in model._meta.concrete_fields
        if re.search(rf"\b{re.escape(table)}\.{re.escape(f.column)}\b", text)
        or f'column "{f.column}"' in text
    ]


def _integrity_error(model, error: IntegrityError) -> dict[str, list[str]]:
    """A database refusal as field-level messages that name no constraint."""
    nulls = _null_fields(model, str(error))
    if nulls:
        return {name: [str(NULL_MESSAGE)] for name in nulls}
    return {name: [not_saved()] for name in _integrity_fields(model, error)}


def _integrity_fields(model, error: IntegrityError) -> list[str]:
    """The fields a unique violation reported by the database is about (PostgreSQL names
    the constraint, SQLite its columns), for a field-level message that names neither."""
    text = str(error)
    table = model._meta.db_table
    candidates = [(c.name, c.fields) for c in model._meta.total_unique_constraints]
    candidates += [(None, (f.name,)) for f in model._meta.concrete_fields if f.unique]
    for name, fields in candidates:
        columns = [f"{table}.{model._meta.get_field(f).column}" for f in fields]
        if (name and f'"{name}"' in text) or all(c in text for c in columns):
            return _blamed(model, fields)
    return [NON_FIELD_ERRORS]


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
    except IntegrityError as e:  # a race the checks could not see
        raise ValidationFailed(_integrity_error(type(obj), e)) from None
    for name, values in m2m.items():
        getattr(obj, name).set(values)


def create(actor, model, data: dict, *, remote_addr=None, event=True) -> models.Model:
    _require(actor, model, ADD)
    check_text(data)
    check_nulls(model, data)
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
    check_nulls(model, data)
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


def check_reason_length(reason: str) -> None:
    """A reason the audit log can keep whole (``REASON_MAX_LENGTH``)."""
    if len(reason or "") > REASON_MAX_LENGTH:
        raise ValidationFailed(
            {"reason": [_("The reason is too long (at most %(max)d characters).")
                        % {"max": REASON_MAX_LENGTH}]}
        )  # fmt: skip


def reveal(actor, obj, field_name: str, reason: str, *, remote_addr=None) -> str:
    """The plaintext of one personal-data field, for a stated reason, audited."""
    model = type(obj)
    model._meta.get_field(field_name)
    if not is_personal(model, field_name):
        raise ValidationFailed({"field": [_("This field holds no personal data.")]})
    reason = (reason or "").strip()
    check_text({"reason": reason})
    check_reason_length(reason)
    if len(reason) < 4:
        raise ValidationFailed(
            {"reason": [_("Say why you need to see this (at least 4 characters).")]}
        )
    _require(actor, model, REVEAL)
    _require_in_scope(actor, obj, REVEAL)
    value = getattr(obj, field_name)
    if isinstance(value, Sealed) and not value.readable:
        raise ValidationFailed({field_name: [unreadable()]})
    with transaction.atomic():
        audit.record(
            actor,
            AuditAction.REVEAL,
            obj,
            after={"field": field_name},
            reason=reason,
            remote_addr=remote_addr,
        )
    if isinstance(value, Sealed):
        return value.reveal()
    if value is None or value == "":
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def record_export(
    actor, model, *, count: int, fmt: str, personal: bool, reason="", remote_addr=None
):
    """Check and audit an export of ``count`` rows; ``personal`` = unmasked personal data."""
    _require(actor, model, EXPORT)
    check_text({"reason": reason})
    check_reason_length(reason)
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


def unreadable() -> str:
    return _(
        "This value cannot be read: it was not written for this record, or its key is "
        "missing. Tell the platform's operator."
    )


def search_personal(actor, model, q: str, kinds, *, remote_addr=None) -> list[tuple[str, str, str]]:
    """``(kind, digest, masked)`` for each personal-data kind (ID number, phone) that ``q``
    is a valid value of: the keyed hashes that find ``model``'s rows holding exactly it.

    Such a search is a look at personal data (a masked phone has only 10,000 candidates),
    so every search is audited — the kind and the masked value, never the value — and,
    for a user who may not reveal ``model``'s personal data, counted per user and refused
    past ``ANYUAN_PERSONAL_SEARCH_LIMIT``. Every list search, page or API, comes here.
    """
    found = []
    for kind in dict.fromkeys(kinds):
        try:
            value = normalize(kind, q)
        except identifiers.IdentifierError:
            continue
        found.append((kind, digest(kind, value), mask(kind, value)))
    if not found:
        return []
    if not user_can(actor, model, REVEAL):
        within_limit(
            actor,
            "search:personal",
            settings.ANYUAN_PERSONAL_SEARCH_LIMIT,
            _("Too many searches by ID number or phone: try again in %(minutes)d minutes."),
        )
    audit.record(
        actor,
        AuditAction.SEARCH,
        object_type=model._meta.label_lower,
        object_repr=f"{model._meta.verbose_name_plural}: {found[0][2]}"[:200],
        after={"kinds": [kind for kind, _d, _m in found], "masked": found[0][2]},
        remote_addr=remote_addr,
    )
    return found
