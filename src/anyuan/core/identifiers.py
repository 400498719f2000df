"""Chinese identifiers: resident ID numbers (GB 11643), unified social credit codes
(GB 32100) with their embedded organisation codes (GB 11714), vehicle plates and phone
numbers.

Each ``normalize_*`` returns the canonical form or raises :class:`IdentifierError` with a
message a person can act on. The ``*_validator`` wrappers raise Django's
``ValidationError`` for model and form fields.
"""

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


class IdentifierError(ValueError):
    pass


# --- GB 11643 resident identity number -------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
# Province-level codes in use (GB/T 2260); 71/81/82 are Taiwan, Hong Kong and Macao.
PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
    "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
    "63", "64", "65", "71", "81", "82",
}  # fmt: skip


def id_check_digit(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def normalize_id_number(value: str, today: dt.date | None = None) -> str:
    v = (value or "").strip().upper()
    if len(v) != 18:
        raise IdentifierError(_("An ID number has 18 characters."))
    if not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        raise IdentifierError(_("An ID number is 17 digits and a digit or X."))
    if v[:2] not in PROVINCES or v[2:6] == "0000":
        raise IdentifierError(_("The ID number's region code does not exist."))
    try:
        born = dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        raise IdentifierError(_("The ID number's date of birth is not a date.")) from None
    today = today or dt.date.today()
    if born.year < 1900 or born > today:
        raise IdentifierError(_("The ID number's date of birth is out of range."))
    if id_check_digit(v[:17]) != v[17]:
        raise IdentifierError(_("The ID number's check digit is wrong."))
    return v


def id_number_birth_date(value: str) -> dt.date:
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


# --- GB 32100 unified social credit code ----------------------------------------------

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# First character: the registering authority (GB 32100 table 1).
USCC_AUTHORITIES = set("123456789ANY")


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    def val(c: str) -> int:
        return int(c) if c.isdigit() else ord(c) - ord("A") + 10

    r = 11 - sum(val(c) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True)) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def normalize_credit_code(value: str) -> str:
    v = (value or "").strip().upper()
    if len(v) != 18:
        raise IdentifierError(_("A unified social credit code has 18 characters."))
    bad = sorted({c for c in v if c not in USCC_CHARS})
    if bad:
        raise IdentifierError(
            _("A unified social credit code may not contain %(chars)s.") % {"chars": "".join(bad)}
        )
    if v[0] not in USCC_AUTHORITIES:
        raise IdentifierError(_("The credit code's registering authority is unknown."))
    if not v[2:8].isdigit() or v[2:4] not in PROVINCES:
        raise IdentifierError(_("The credit code's region code does not exist."))
    if org_code_check_char(v[8:16]) != v[16]:
        raise IdentifierError(_("The credit code's organisation code check is wrong."))
    if uscc_check_char(v[:17]) != v[17]:
        raise IdentifierError(_("The credit code's check character is wrong."))
    return v


# --- vehicle plates (GA 36) -------------------------------------------------------------

PROVINCE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"  # letters without I and O
PLATE_PATTERNS = [
    # ordinary blue/yellow plates: 粤B12345, 粤BA1234, and trailer/coach/learner suffixes
    re.compile(rf"^[{PROVINCE_ABBR}][{_L}][{_L}0-9]{{4}}[{_L}0-9挂学警港澳领试超]$"),
    # small new-energy: 粤BD12345 / 粤BDF1234 (third character A–K without I)
    re.compile(rf"^[{PROVINCE_ABBR}][{_L}][A-HJK][{_L}0-9][0-9]{{4}}$"),
    # large new-energy: 粤B12345D
    re.compile(rf"^[{PROVINCE_ABBR}][{_L}][0-9]{{5}}[A-HJK]$"),
]


def normalize_plate(value: str) -> str:
    v = re.sub(r"[\s·•\-]", "", (value or "")).upper()
    if not 7 <= len(v) <= 8:
        raise IdentifierError(_("A plate has 7 characters, or 8 for a new-energy vehicle."))
    if v[0] not in PROVINCE_ABBR:
        raise IdentifierError(_("A plate starts with a province abbreviation such as 粤 or 浙."))
    if not any(p.match(v) for p in PLATE_PATTERNS):
        raise IdentifierError(_("This is not a valid plate number."))
    return v


def is_new_energy_plate(value: str) -> bool:
    return len(value) == 8


# --- phone numbers -----------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE = re.compile(r"^0[1-9][0-9]{1,2}-?[1-9][0-9]{6,7}$")
_SERVICE = re.compile(r"^(110|119|120|122|12110|96110|400[0-9]{7}|800[0-9]{7})$")


def normalize_phone(value: str) -> str:
    v = re.sub(r"[\s()]", "", value or "")
    if v.startswith("+86"):
        v = v[3:]
    if _MOBILE.match(v) or _LANDLINE.match(v) or _SERVICE.match(v):
        return v
    raise IdentifierError(_("This is not a valid mainland China phone number."))


# --- Django validators ------------------------------------------------------------------


def _as_django_error(fn, value):
    try:
        fn(value)
    except IdentifierError as e:
        raise ValidationError(str(e), code="invalid") from None


def validate_id_number(value):
    _as_django_error(normalize_id_number, value)


def validate_credit_code(value):
    _as_django_error(normalize_credit_code, value)


def validate_plate(value):
    _as_django_error(normalize_plate, value)


def validate_phone(value):
    _as_django_error(normalize_phone, value)
