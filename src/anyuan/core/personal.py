"""The one personal-data mechanism: encryption at rest, keyed-hash look-ups, masking.

- :class:`EncryptedField` keeps a value (ID number, phone) encrypted with AES-256-GCM. In
  Python the value is a :class:`Sealed`, whose ``str()`` is the *masked* form, so a page,
  an API schema or a log line that prints it shows ``330206********123X``; only
  :meth:`Sealed.reveal` gives the plaintext, and only :func:`anyuan.core.actions.reveal`
  and audited exports call it.
- :class:`DigestField` keeps an HMAC-SHA256 of the normalised value next to it, so that an
  exact look-up (``Person.objects.filter(id_number_digest=digest("id_number", v))``) needs
  no decryption; equality look-ups on the encrypted column itself are refused.
- The key comes from ``ANYUAN_DATA_KEY`` (base64 of 32 bytes); without it the embedded
  default creates ``var/secret/data.key`` with mode 0600 and says so.
"""

import base64
import datetime as dt
import hashlib
import hmac
import os
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache
from types import SimpleNamespace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from anyuan.core import identifiers
from anyuan.core.secrets import secret_from_env_or_file

PREFIX = "v1:"


@cache
def _keys() -> tuple[AESGCM, bytes]:
    raw = secret_from_env_or_file("ANYUAN_DATA_KEY", settings.ANYUAN_DATA_KEY_FILE)
    master = base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4))
    if len(master) < 32:
        raise RuntimeError("ANYUAN_DATA_KEY must be at least 32 bytes (base64-encoded)")

    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)

    return AESGCM(derive(b"anyuan personal data encryption v1")), derive(b"anyuan lookup v1")


def encrypt(plaintext: str) -> str:
    aead, _ = _keys()
    nonce = os.urandom(12)
    return PREFIX + base64.b64encode(nonce + aead.encrypt(nonce, plaintext.encode(), None)).decode()


def decrypt(token: str) -> str:
    aead, _ = _keys()
    raw = base64.b64decode(token[len(PREFIX) :])
    return aead.decrypt(raw[:12], raw[12:], None).decode()


# --- kinds of personal data: how each is normalised and masked ------------------------


def mask_id_number(v: str) -> str:
    return v[:6] + "*" * (len(v) - 10) + v[-4:] if len(v) > 10 else "*" * len(v)


def mask_phone(v: str) -> str:
    if len(v) == 11 and v.isdigit():
        return v[:3] + "****" + v[-4:]
    return v[:3] + "*" * max(len(v) - 5, 0) + v[-2:] if len(v) > 5 else "*" * len(v)


KINDS = {
    "id_number": (identifiers.normalize_id_number, mask_id_number),
    "phone": (identifiers.normalize_phone, mask_phone),
}


def normalize(kind: str, value: str) -> str:
    return KINDS[kind][0](value)


def mask(kind: str, value: str) -> str:
    return KINDS[kind][1](value) if value else ""


def digest(kind: str, value: str) -> str:
    """Keyed hash of the normalised value, for exact look-ups."""
    _, key = _keys()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def digest_or_none(kind: str, value: str) -> str | None:
    """Digest of ``value`` if it is a valid value of ``kind``, else ``None``."""
    try:
        return digest(kind, normalize(kind, value))
    except identifiers.IdentifierError:
        return None


class Sealed:
    """A protected value: prints masked, reveals only on request."""

    __slots__ = ("_kind", "_plain", "_token")

    def __init__(self, kind: str, *, token: str | None = None, plain: str | None = None):
        self._kind, self._token, self._plain = kind, token, plain

    def reveal(self) -> str:
        if self._plain is None:
            self._plain = decrypt(self._token)
        return self._plain

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = encrypt(self._plain)
        return self._token

    @property
    def masked(self) -> str:
        return mask(self._kind, self.reveal())

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"<Sealed {self._kind} {self.masked}>"

    def __eq__(self, other) -> bool:
        if isinstance(other, Sealed):
            return self.reveal() == other.reveal()
        if isinstance(other, str):
            return self.reveal() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.reveal())

    def __bool__(self) -> bool:
        return bool(self._token or self._plain)


def plain(value) -> str:
    """Plaintext of a Sealed or a str (for code that must see the real value)."""
    if isinstance(value, Sealed):
        return value.reveal()
    return value or ""


class EncryptedField(models.TextField):
    """A personal-data column: AES-GCM ciphertext in the database, :class:`Sealed` in Python."""

    def __init__(self, *args, kind: str = "id_number", **kwargs):
        if kind not in KINDS:
            raise ValueError(f"unknown personal-data kind {kind!r}")
        self.kind = kind
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        return Sealed(self.kind, token=value)

    def to_python(self, value):
        if isinstance(value, Sealed) or not value:
            return value or ""
        try:
            return Sealed(self.kind, plain=normalize(self.kind, str(value)))
        except identifiers.IdentifierError as e:
            raise ValidationError(str(e), code="invalid") from None

    def get_prep_value(self, value):
        if isinstance(value, Sealed):
            return value.token
        if not value:
            return ""
        return encrypt(normalize(self.kind, str(value)))

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)

    def value_to_string(self, obj):
        return str(self.value_from_object(obj) or "")


class DigestField(models.CharField):
    """HMAC of another field's normalised plaintext, kept in step on every save."""

    def __init__(self, *args, source: str = "", **kwargs):
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        source_field = model_instance._meta.get_field(self.source)
        value = plain(getattr(model_instance, self.source))
        result = digest(source_field.kind, normalize(source_field.kind, value)) if value else None
        setattr(model_instance, self.attname, result)
        return result


def encrypted_fields(model) -> list[EncryptedField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]


# --- what a model's fields disclose: derived personal data, who reported what ---------
#
# Besides its EncryptedFields, a model declares ``disclosure = Disclosure(...)``:
#
# - ``derived``: values computed from personal data (a date of birth, an age, a sex, a
#   region taken from an ID number). They are personal data too: every output (pages,
#   API, exports, audit snapshots) shows them masked, like the encrypted values, and
#   nobody may filter, search or sort by them; the audited reveal gives the value.
# - ``police_only``: who reported what (the reporter, the reporting account, the source).
#   Shown to the police, and to the reporters themselves on their own reports (the scope's
#   path to the person); to everyone else withheld, and not searchable, filterable or
#   sortable. ``police_only_if`` limits it to some rows (a case's "report" step names
#   the reporter; its other steps name the handlers).
# - ``safe``: fields whose name looks like one of the above but which are not, each with
#   the reason (core/tests/test_disclosure.py fails on an undeclared look-alike).
#
# The output mechanism consults it: core/schemas.py (API schemas), core/views.py (the
# generic pages, their search, filters and sorting), core/api.py (list filters),
# registry/exporting.py, core/audit.py (snapshots), live/actions.py (live messages) and
# :func:`disclosed` for hand-written templates.

MASKED_DATE = "****-**-**"
MASKED = "****"


@dataclass(frozen=True)
class Disclosure:
    derived: tuple[str, ...] = ()
    police_only: tuple[str, ...] = ()
    police_only_if: Callable[[object], bool] | None = None
    safe: dict[str, str] = field(default_factory=dict)


NO_DECLARATION = Disclosure()


def disclosure(model) -> Disclosure:
    return getattr(model, "disclosure", NO_DECLARATION)


@cache
def _names(model, names) -> frozenset[str]:
    """Field names and, for foreign keys, their attnames (``reporter`` and ``reporter_id``)."""
    found = set()
    for name in names:
        found.add(name)
        # a declared name that is not a field is caught by core/tests/test_disclosure.py
        with suppress(Exception):
            found.add(model._meta.get_field(name).attname)
    return frozenset(found)


def derived_names(model) -> frozenset[str]:
    return _names(model, disclosure(model).derived)


def police_only_names(model) -> frozenset[str]:
    return _names(model, disclosure(model).police_only)


def sees_reporters(user) -> bool:
    """The police (and platform operators) see who reported anything in their scope;
    ``None`` is the system (command-line exports). Informants and employees see it on
    their own reports only (:func:`hidden_names`)."""
    from anyuan.core.roles import is_police

    return user is None or is_police(user)


def _reported_by(user, model, obj) -> bool:
    """Is ``obj`` (a row or a snapshot) ``user``'s own report, by the model's scope path
    to its person (``reporter``, ``case__reporter``)?"""
    from anyuan.core.roles import PERSONAL_ROLES

    path = getattr(getattr(model, "scope", None), "person", None)
    person = getattr(user, "person_id", None)
    if obj is None or not path or not person or getattr(user, "role", None) not in PERSONAL_ROLES:
        return False
    *hops, last = path.split("__")
    target = obj
    for hop in hops:
        target = target.get(hop) if isinstance(target, dict) else getattr(target, hop, None)
        if target is None:
            return False
    if isinstance(target, dict):
        return target.get(last, target.get(f"{last}_id")) == person
    try:
        field = target._meta.get_field(last)
    except Exception:
        return False
    return getattr(target, field.attname, None) == person


def mask_derived(value) -> str:
    if value is None or value == "":
        return ""
    return MASKED_DATE if isinstance(value, dt.date) else MASKED


def hidden_names(user, model, obj=None) -> frozenset[str]:
    """Police-only names withheld from ``user`` (on ``obj``, if given; without a row, as
    for a row that is not theirs)."""
    names = police_only_names(model)
    if not names or sees_reporters(user) or _reported_by(user, model, obj):
        return frozenset()
    condition = disclosure(model).police_only_if
    if obj is not None and condition is not None:
        row = SimpleNamespace(**obj) if isinstance(obj, dict) else obj
        try:
            applies = condition(row)
        except AttributeError:  # a partial snapshot: withhold
            applies = True
        if not applies:
            return frozenset()
    return names


def is_personal(model, name: str) -> bool:
    """An encrypted field or a value derived from one: masked, revealed only with a reason."""
    try:
        if isinstance(model._meta.get_field(name), EncryptedField):
            return True
    except Exception:
        return False
    return name in derived_names(model)


def may_look_up(user, model, name: str) -> bool:
    """May ``user`` filter, search or sort ``model`` by the field ``name``? Never by
    personal data or a value derived from it; by who reported only where they see it."""
    return not is_personal(model, name) and name not in hidden_names(user, model)


def shown(user, obj, name: str, value=None):
    """The value of ``obj.name`` as ``user`` may see it: derived values masked, police-only
    ones withheld (``""`` / ``None``)."""
    model = type(obj) if not isinstance(obj, dict) else None
    return _shown(user, model, obj, name, value)


def _shown(user, model, obj, name, value=None):
    if value is None:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    if model is not None:
        if name in derived_names(model):
            return mask_derived(value)
        if name in hidden_names(user, model, obj):
            return "" if isinstance(value, str) else None
    return value


class disclosed:
    """``obj`` as ``user`` may see it, for templates: declared fields (and their
    ``get_…_display``) come masked or withheld, everything else from ``obj``."""

    __slots__ = ("_hidden", "_model", "_obj", "_user")

    def __init__(self, obj, user):
        self._obj, self._user, self._model = obj, user, type(obj)
        self._hidden = derived_names(self._model) | hidden_names(user, self._model, obj)

    def __getattr__(self, name):
        if name in self._hidden:
            return _shown(self._user, self._model, self._obj, name)
        if name.startswith("get_") and name.endswith("_display") and name[4:-8] in self._hidden:
            return lambda: _shown(self._user, self._model, self._obj, name[4:-8])
        return getattr(self._obj, name)

    def __str__(self):
        return str(self._obj)


@cache
def undisclosable_names() -> frozenset[str]:
    """Every name declared derived or police-only on any model (for live messages, which
    carry plain keys)."""
    from django.apps import apps

    names = set()
    for model in apps.get_models():
        names |= derived_names(model) | police_only_names(model)
    return frozenset(names)
