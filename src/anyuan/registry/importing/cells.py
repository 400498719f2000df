"""Cell parsers: text of one cell → a Python value, or :class:`Invalid` with a reason.

Every parser receives the cell text already stripped and never empty (empty cells are
handled by the engine: required → an error, optional → the field's default).
"""

import datetime as dt
import re
from collections.abc import Callable

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from anyuan.core import identifiers


class Invalid(ValueError):
    """A cell that cannot be accepted; ``message`` says why, in the user's language."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = str(message)


Parser = Callable[[str], object]

TRUE = {"1", "true", "yes", "y", "是", "t"}
FALSE = {"0", "false", "no", "n", "否", "f"}
LIST_SEPARATOR = ";"


def text(max_length: int | None = None) -> Parser:
    def parse(value: str) -> str:
        if max_length is not None and len(value) > max_length:
            raise Invalid(
                _("At most %(n)d characters (this has %(m)d).") % {"n": max_length, "m": len(value)}
            )
        return value

    return parse


def integer(minimum: int = 0, maximum: int = 2_147_483_647) -> Parser:
    def parse(value: str) -> int:
        v = value.replace(",", "")
        if re.fullmatch(r"[+-]?\d+(\.0+)?", v) is None:
            raise Invalid(_("Not a whole number."))
        n = int(v.split(".")[0])
        if not minimum <= n <= maximum:
            raise Invalid(
                _("Must be between %(min)d and %(max)d.") % {"min": minimum, "max": maximum}
            )
        return n

    return parse


def boolean(value: str) -> bool:
    v = value.lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise Invalid(_("Not a yes/no value; use 1/0, true/false, yes/no or 是/否."))


def choice(choices) -> Parser:
    """A value of a TextChoices class, given as its value or its label (English or Chinese)."""
    lookup: dict[str, str] = {}
    for value, label in choices.choices:
        if not value:
            continue
        lookup[value.lower()] = value
        for lang in ("en", "zh-hans"):
            with translation.override(lang):
                lookup.setdefault(str(label).lower(), value)
    allowed = ", ".join(v for v, _label in choices.choices if v)

    def parse(value: str) -> str:
        try:
            return lookup[value.lower()]
        except KeyError:
            raise Invalid(
                _("Unknown value; use one of: %(allowed)s.") % {"allowed": allowed}
            ) from None

    return parse


_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def date(value: str) -> dt.date:
    m = _DATE.fullmatch(value)
    if m is None:
        raise Invalid(_("Not a date; write YYYY-MM-DD."))
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise Invalid(_("Not a date; write YYYY-MM-DD.")) from None


def time(value: str) -> dt.time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", value)
    if m is None:
        raise Invalid(_("Not a time; write HH:MM."))
    try:
        return dt.time(int(m[1]), int(m[2]), int(m[3] or 0))
    except ValueError:
        raise Invalid(_("Not a time; write HH:MM.")) from None


def datetime(value: str) -> dt.datetime:
    """ISO 8601; without an offset the local time zone; a bare date means the end of that day."""
    if _DATE.fullmatch(value):
        day = date(value)
        return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59, 59)))
    try:
        parsed = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise Invalid(_("Not a date and time; write e.g. 2026-11-23T08:00:00+08:00.")) from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def identifier(normalize: Callable[[str], str]) -> Parser:
    """An identifier normalised by one of :mod:`anyuan.core.identifiers`' functions."""

    def parse(value: str) -> str:
        try:
            return normalize(value)
        except identifiers.IdentifierError as e:
            raise Invalid(str(e)) from None

    return parse


id_number = identifier(identifiers.normalize_id_number)
phone = identifier(identifiers.normalize_phone)
credit_code = identifier(identifiers.normalize_credit_code)


def listing(item: Parser | None = None) -> Parser:
    """A ``;``-separated list (empty items dropped, duplicates kept once, order kept)."""

    def parse(value: str) -> list:
        out = []
        for part in value.replace("；", LIST_SEPARATOR).split(LIST_SEPARATOR):
            part = part.strip()
            if part:
                v = item(part) if item else part
                if v not in out:
                    out.append(v)
        return out

    return parse


def zone_ref(value: str) -> tuple[str, str]:
    """``PARK/CODE``: a zone by its park's name and its code."""
    park, sep, code = value.rpartition("/")
    park, code = park.strip(), code.strip()
    if not sep or not park or not code:
        raise Invalid(_("Name a zone as PARK/CODE, e.g. 东区工业园/A3-2F."))
    return park, code


def weekdays(value: str) -> str:
    v = value.replace(",", "").replace(" ", "").replace(LIST_SEPARATOR, "")
    if not v or any(c not in "1234567" for c in v):
        raise Invalid(_("Use the digits 1 (Monday) to 7 (Sunday)."))
    return "".join(sorted(set(v)))
