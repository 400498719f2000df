"""The one personal-data mechanism: encryption at rest, keyed-hash look-ups, masking.

- :class:`EncryptedField` keeps a value (ID number, phone) encrypted with AES-256-GCM. In
  Python the value is a :class:`Sealed`, whose ``str()`` is the *masked* form, so a page,
  an API schema or a log line that prints it shows ``*****************X``; only
  :meth:`Sealed.reveal` gives the plaintext, and only :func:`anyuan.core.actions.reveal`
  and audited exports call it.
- :class:`DigestField` keeps an HMAC-SHA256 of the normalised value next to it, so that an
  exact look-up (``Person.objects.filter(id_number_digest=digest("id_number", v))``) needs
  no decryption; equality look-ups on the encrypted column itself are refused.
- Each ciphertext is bound to its table, column and row (the row's :class:`RowKeyField`)
  and names the key that made it. The keys come from ``ANYUAN_DATA_KEY`` or the key file
  ``ANYUAN_DATA_KEY_FILE`` (base64 of 32 bytes each, newest first); without either the
  embedded default creates ``var/secret/data.key`` with mode 0600 and says so.
  ``anyuan rotate-keys`` re-encrypts everything under the newest key.
"""

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from types import SimpleNamespace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.expressions import Col
from django.utils.translation import gettext as _

from anyuan.core import identifiers
from anyuan.core.secrets import secret_from_env_or_file

log = logging.getLogger("anyuan.personal")

# --- keys and ciphertexts ----------------------------------------------------------------
#
# A stored value is ``v2:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>``, AES-256-GCM with a
# random 96-bit nonce. The associated data names the value's table, column and row (the
# row's :class:`RowKeyField`), so a ciphertext copied into another row, column or table
# no longer decrypts. The key id (8 hex digits derived from the key) says which key of
# the ring encrypted it: the newest key encrypts, every configured key decrypts, and
# ``anyuan rotate-keys`` re-encrypts under the newest one. ``v1:`` values (one key, no
# associated data, written before the binding) are read only by the re-encryption.

PREFIX = "v2:"
LEGACY_PREFIX = "v1:"
_V2_HEAD = len(PREFIX) + 8 + 1  # "v2:" + key id + ":"


class Unreadable(Exception):
    """A stored value that does not decrypt: another row's (moved), tampered with, or
    under a key that is not configured."""


@dataclass(frozen=True)
class KeyRing:
    newest: str  # key id of the key that encrypts
    aeads: dict  # key id → AESGCM, every configured key
    lookup: bytes  # the keyed-hash key (see digest())
    head: str  # "v2:<newest key id>:"


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def key_id(master: bytes) -> str:
    return hmac.new(master, b"anyuan key id", hashlib.sha256).hexdigest()[:8]


LOOKUP = "lookup:"


def parse_keys(text: str) -> tuple[list[bytes], bytes | None]:
    """The data keys (base64 of at least 32 bytes, separated by commas, spaces or lines,
    newest first; ``#`` starts a comment) and the look-up key if one is given as
    ``lookup:<base64>`` (see :func:`_keys`)."""
    keys, lookup = [], None
    for line in text.splitlines():
        for item in re.split(r"[\s,]+", line.split("#", 1)[0]):
            if not item:
                continue
            is_lookup = item.startswith(LOOKUP)
            item = item.removeprefix(LOOKUP)
            key = base64.urlsafe_b64decode(item.encode() + b"=" * (-len(item) % 4))
            if len(key) < 32:
                raise RuntimeError("ANYUAN_DATA_KEY must be at least 32 bytes (base64-encoded)")
            if is_lookup:
                lookup = key
            else:
                keys.append(key)
    if not keys:
        raise RuntimeError("No personal-data key is configured (ANYUAN_DATA_KEY)")
    return keys, lookup


def lookup_line(lookup: bytes) -> str:
    return LOOKUP + base64.urlsafe_b64encode(lookup).decode()


def _key_text() -> str:
    path = Path(settings.ANYUAN_DATA_KEY_FILE)
    required = settings.ANYUAN_DATA_KEY_FILE_REQUIRED
    if required and not os.environ.get("ANYUAN_DATA_KEY") and not path.is_file():
        # a configured key file is never made up anew: that would be a new key
        raise RuntimeError(f"The personal-data key file {path} does not exist")
    return secret_from_env_or_file("ANYUAN_DATA_KEY", path)


@cache
def _keys() -> KeyRing:
    masters, lookup = parse_keys(_key_text())
    aeads = {}
    for master in masters:
        kid = key_id(master)
        if kid in aeads:
            raise RuntimeError("The same personal-data key is configured twice")
        aeads[kid] = AESGCM(_derive(master, b"anyuan personal data encryption v1"))
    # The look-up key does not rotate: digests are in unique constraints and dispute access
    # codes exist only as digests, so they cannot all be recomputed. It is derived from the
    # last (the site's first) key, or given as its own ``lookup:`` entry once that key is
    # removed from the ring (``anyuan rotate-keys --lookup-line`` prints it).
    if lookup is None:
        lookup = _derive(masters[-1], b"anyuan lookup v1")
    newest = key_id(masters[0])
    return KeyRing(newest=newest, aeads=aeads, lookup=lookup, head=f"{PREFIX}{newest}:")


def encrypt(plaintext: str, ad: bytes = b"") -> str:
    """Ciphertext of ``plaintext`` under the newest key, bound to ``ad``."""
    ring = _keys()
    nonce = os.urandom(12)
    sealed = ring.aeads[ring.newest].encrypt(nonce, plaintext.encode(), ad)
    return ring.head + binascii.b2a_base64(nonce + sealed, newline=False).decode()


def decrypt(token: str, ad: bytes = b"", *, legacy: bool = False) -> str:
    """Plaintext of ``token``, which must have been bound to ``ad``; :class:`Unreadable`
    otherwise. ``legacy``: also read ``v1:`` values (the re-encryption does)."""
    try:
        if token[:3] == PREFIX:  # the hot path: lists of people decrypt every shown value
            aead = _keys().aeads.get(token[3:11])
            if aead is None or token[11:12] != ":":
                raise Unreadable("encrypted under a key that is not configured")
            raw = binascii.a2b_base64(token[_V2_HEAD:])
            return aead.decrypt(raw[:12], raw[12:], ad).decode()
        ring = _keys()
        if legacy and token.startswith(LEGACY_PREFIX):
            raw = base64.b64decode(token[len(LEGACY_PREFIX) :])
            for aead in ring.aeads.values():  # v1 carried no key id
                try:
                    return aead.decrypt(raw[:12], raw[12:], None).decode()
                except InvalidTag:
                    continue
            raise Unreadable("no configured key reads this value")
    except (InvalidTag, ValueError) as e:  # ValueError: bad base64 (binascii.Error) or UTF-8
        raise Unreadable("the value does not decrypt here (moved, altered or another key)") from e
    raise Unreadable("unknown format")


def is_current(token: str) -> bool:
    """Encrypted under the newest key in the current format (``rotate-keys`` skips it)."""
    return token.startswith(PREFIX) and token[3:11] == _keys().newest


def new_row_key() -> str:
    return secrets.token_hex(16)


def associated_data(table: str, column: str, row_key: str) -> bytes:
    return f"{table}\x1f{column}\x1f{row_key}".encode()


# --- kinds of personal data: how each is normalised and masked ------------------------


def mask_id_number(v: str) -> str:
    """Only the check character: the first six digits are the region of household
    registration, the next eight the date of birth and the 17th the sex (odd: male), all
    personal data in their own right; the check character is computed from the others and
    says nothing about the person."""
    return "*" * (len(v) - 1) + v[-1:] if len(v) > 1 else "*" * len(v)


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
    key = _keys().lookup
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def digest_or_none(kind: str, value: str) -> str | None:
    """Digest of ``value`` if it is a valid value of ``kind``, else ``None``."""
    try:
        return digest(kind, normalize(kind, value))
    except identifiers.IdentifierError:
        return None


class Sealed:
    """A protected value: prints masked, reveals only on request.

    ``ad`` is the associated data its ciphertext is bound to (table, column, row); a value
    read from the database carries its row's, a new value gets one when it is saved."""

    __slots__ = ("_ad", "_kind", "_plain", "_token")

    def __init__(self, kind: str, *, token: str | None = None, plain: str | None = None, ad=None):
        self._kind, self._token, self._plain, self._ad = kind, token, plain, ad

    def reveal(self) -> str:
        """The plaintext; :class:`Unreadable` if the stored ciphertext does not decrypt."""
        if self._plain is None:
            self._plain = decrypt(self._token, self._ad or b"")
        return self._plain

    @property
    def readable(self) -> bool:
        try:
            self.reveal()
        except Unreadable:
            return False
        return True

    def bind(self, ad: bytes) -> str:
        """The ciphertext for the row ``ad`` names (re-encrypted if it was another's)."""
        if self._token is None or self._ad != ad:
            self._token = encrypt(self.reveal(), ad)
            self._ad = ad
        return self._token

    @property
    def token(self) -> str:
        if self._token is None or self._ad is None:
            raise ValueError(
                "personal data is written through a model instance (save, bulk_create), "
                "which binds it to its row"
            )
        return self._token

    @property
    def masked(self) -> str:
        try:
            return mask(self._kind, self.reveal())
        except Unreadable:
            log.warning("unreadable %s value (moved, altered or under a missing key)", self._kind)
            return _("(unreadable)")

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"<Sealed {self._kind} {self.masked}>"

    def _comparable(self):
        try:
            return self.reveal()
        except Unreadable:
            return (self._token, self._ad)

    def __eq__(self, other) -> bool:
        if isinstance(other, Sealed):
            return self._comparable() == other._comparable()
        if isinstance(other, str):
            return self._comparable() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._comparable())

    def __bool__(self) -> bool:
        return bool(self._token or self._plain)


def plain(value) -> str:
    """Plaintext of a Sealed or a str (for code that must see the real value); an
    unreadable value counts as empty."""
    if isinstance(value, Sealed):
        try:
            return value.reveal()
        except Unreadable:
            return ""
    return value or ""


class RowKeyField(models.CharField):
    """A random value per row that the row's personal data is bound to.

    The primary key is not known before an INSERT (nor in a ``bulk_create`` on every
    database), so the binding uses a key made when the object is made; it never changes.
    Every model with an :class:`EncryptedField` declares one (a system check says so)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("default", new_row_key)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for key, value in (("max_length", 32), ("default", new_row_key), ("editable", False)):
            if kwargs.get(key) == value:
                del kwargs[key]
        return name, path, args, kwargs


def row_key_field(model) -> RowKeyField | None:
    for f in model._meta.concrete_fields:
        if isinstance(f, RowKeyField):
            return f
    return None


class _SealedCol(Col):
    """An encrypted column selected together with its row's key (``rowkey:ciphertext``),
    so that every read — model objects, ``values()``, related paths — can check the
    ciphertext belongs to the row it came from."""

    def select_format(self, compiler, sql, params):
        rk = row_key_field(self.target.model)
        if rk is None or self.alias is None:
            return sql, params
        qn = compiler.quote_name_unless_alias
        return f"({qn(self.alias)}.{qn(rk.column)} || ':' || {sql})", params


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

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        if not self.model._meta.abstract and row_key_field(self.model) is None:
            errors.append(
                checks.Error(
                    "A model with personal data declares a RowKeyField its values are bound to.",
                    obj=self,
                    id="anyuan.E001",
                )
            )
        return errors

    def get_col(self, alias, output_field=None):
        if output_field is None or output_field is self:
            return _SealedCol(alias, self)
        return super().get_col(alias, output_field)

    @property
    def cached_col(self):
        return _SealedCol(self.model._meta.db_table, self)

    @cached_property
    def _ad_head(self) -> bytes:
        return associated_data(self.model._meta.db_table, self.column, "")

    def associated_data(self, row_key: str) -> bytes:
        return self._ad_head + row_key.encode()

    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        if value[:3] in ("v1:", "v2:"):  # selected without its row key
            return Sealed(self.kind, token=value)
        row_key, _sep, token = value.partition(":")
        if not token:
            return ""
        return Sealed(self.kind, token=token, ad=self.associated_data(row_key))

    def to_python(self, value):
        if isinstance(value, Sealed) or not value:
            return value or ""
        try:
            return Sealed(self.kind, plain=normalize(self.kind, str(value)))
        except identifiers.IdentifierError as e:
            raise ValidationError(str(e), code="invalid") from None

    def pre_save(self, model_instance, add):
        """Encrypt for this row (``save`` and ``bulk_create`` call it; ``bulk_update`` does
        not: bind the objects first with :func:`bind_personal_data`)."""
        value = getattr(model_instance, self.attname)
        if not value:
            return ""
        if not isinstance(value, Sealed):
            value = Sealed(self.kind, plain=normalize(self.kind, str(value)))
        rk = row_key_field(type(model_instance))
        row_key = getattr(model_instance, rk.attname)
        if not row_key:
            row_key = new_row_key()
            setattr(model_instance, rk.attname, row_key)
        value.bind(self.associated_data(row_key))
        setattr(model_instance, self.attname, value)
        return value

    def get_prep_value(self, value):
        if isinstance(value, Sealed):
            return value.token
        if not value:
            return ""
        raise ValueError(
            "personal data is written through a model instance (save, bulk_create), "
            "which binds it to its row"
        )

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

    def compute(self, model_instance):
        """The digest of the source's current value (the stored one if it is unreadable)."""
        source_field = model_instance._meta.get_field(self.source)
        value = getattr(model_instance, self.source)
        if isinstance(value, Sealed) and not value.readable:
            return getattr(model_instance, self.attname)
        value = plain(value)
        return digest(source_field.kind, normalize(source_field.kind, value)) if value else None

    def pre_save(self, model_instance, add):
        result = self.compute(model_instance)
        setattr(model_instance, self.attname, result)
        return result


def encrypted_fields(model) -> list[EncryptedField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]


def bind_personal_data(obj) -> None:
    """Encrypt ``obj``'s personal data for its row and fill its digests (what ``save``
    does), for writers that use ``bulk_update``."""
    for f in obj._meta.concrete_fields:
        if isinstance(f, EncryptedField):
            f.pre_save(obj, False)
    for f in obj._meta.concrete_fields:
        if isinstance(f, DigestField):
            f.pre_save(obj, False)


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
