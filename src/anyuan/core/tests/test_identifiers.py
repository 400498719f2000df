"""Chinese identifiers: resident ID numbers (GB 11643), unified social credit codes
(GB 32100, with the embedded GB 11714 organisation code), plates and phone numbers.

Known examples, then properties over generated values. What the check characters catch is
tested as what is mathematically true:

- GB 11643 (mod 11, weights 2^(17-i) mod 11, all non-zero; 11 is prime): every single
  substitution of one of the 18 characters, and every swap of two adjacent different digits
  among the first 17 (adjacent weights differ), changes the check — so both are refused.
  Not every transposition, though: 2^10 ≡ 1 (mod 11), so positions ten apart share a weight
  and swapping them keeps the check digit.
- GB 32100 (mod 31, weights 3^i mod 31: 3 has order 30, so the 17 weights are distinct and
  non-zero; 31 is prime, character values are 0–30): every single substitution and every
  swap of two different characters anywhere in the first 17 is refused.
- GB 11714 on its own (mod 11 over character values 0–35) does *not* catch everything: a
  substitution whose values differ by 11 or 22 (0↔B, A↔L, 1↔C …) keeps the organisation
  code check; the credit code's own mod-31 check catches it.
"""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from anyuan.core import identifiers as ids
from anyuan.core.identifiers import (
    PROVINCE_ABBR,
    PROVINCES,
    USCC_CHARS,
    IdentifierError,
    id_check_digit,
    normalize_credit_code,
    normalize_id_number,
    normalize_phone,
    normalize_plate,
    org_code_check_char,
    uscc_check_char,
)

TODAY = dt.date(2026, 6, 15)


@pytest.fixture(autouse=True)
def english():
    """Messages are matched in English, whatever language another test left active."""
    with translation.override("en"):
        yield


REAL_IDS = ["11010519491231002X", "330206199001010013", "440301199003071230"]
REAL_CREDIT_CODES = ["91350100M000100Y43", "91110108551385082Q", "91440300708461136T"]


def refused(fn, value, **kw) -> bool:
    try:
        fn(value, **kw)
    except IdentifierError:
        return True
    return False


# --- strategies ------------------------------------------------------------------------

digits = st.sampled_from("0123456789")


@st.composite
def regions(draw):
    province = draw(st.sampled_from(sorted(PROVINCES)))
    rest = draw(st.text(digits, min_size=4, max_size=4).filter(lambda s: s != "0000"))
    return province + rest


@st.composite
def valid_ids(draw):
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY))
    seq = draw(st.integers(0, 999))
    body = f"{draw(regions())}{born:%Y%m%d}{seq:03d}"
    return body + id_check_digit(body)


@st.composite
def valid_credit_codes(draw):
    authority = draw(st.sampled_from(sorted(ids.USCC_AUTHORITIES)))
    kind = draw(st.sampled_from(USCC_CHARS))
    org_alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    org = draw(st.text(st.sampled_from(org_alphabet), min_size=8, max_size=8))
    body = f"{authority}{kind}{draw(regions())}{org}{org_code_check_char(org)}"
    return body + uscc_check_char(body)


LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
NEV_CLASS = "ABCDEFGHJK"  # new-energy class letters (D, F and the extended A–K, no I)
provinces = st.sampled_from(PROVINCE_ABBR)
letters = st.sampled_from(LETTERS)
letters_or_digits = st.sampled_from(LETTERS + "0123456789")


@st.composite
def ordinary_plates(draw):
    tail = draw(st.text(letters_or_digits, min_size=5, max_size=5))
    return draw(provinces) + draw(letters) + tail


@st.composite
def small_new_energy_plates(draw):
    return (
        draw(provinces)
        + draw(letters)
        + draw(st.sampled_from(NEV_CLASS))
        + draw(letters_or_digits)
        + draw(st.text(digits, min_size=4, max_size=4))
    )


@st.composite
def large_new_energy_plates(draw):
    return (
        draw(provinces)
        + draw(letters)
        + draw(st.text(digits, min_size=5, max_size=5))
        + draw(st.sampled_from(NEV_CLASS))
    )


any_valid_plate = st.one_of(ordinary_plates(), small_new_energy_plates(), large_new_energy_plates())


# --- resident ID numbers ---------------------------------------------------------------


@pytest.mark.parametrize("value", REAL_IDS)
def test_known_id_numbers_are_valid(value):
    assert normalize_id_number(value) == value


def test_lowercase_x_is_accepted_and_upper_cased():
    assert normalize_id_number("11010519491231002x") == "11010519491231002X"
    assert normalize_id_number("  11010519491231002x ") == "11010519491231002X"


def test_check_digit_mapping_follows_the_standard():
    # sum mod 11 → 1 0 X 9 8 7 6 5 4 3 2
    assert id_check_digit("11010519491231002") == "X"
    assert ids.ID_CHECK == "10X98765432"
    assert tuple(2 ** (17 - i) % 11 for i in range(17)) == ids.ID_WEIGHTS


def checked(body17: str) -> str:
    """``body17`` with its correct check digit, so only the body's own defect remains."""
    return body17 + id_check_digit(body17)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("11010519491231002", id="17 characters"),
        pytest.param("11010519491231002X1", id="19 characters"),
        pytest.param("110105194912310021", id="wrong check digit"),
        pytest.param("11010519491231002Y", id="not a digit or X"),
        pytest.param("1101051949123100X2", id="X not last"),
        pytest.param("１１0105194912310020", id="full-width digits"),
        pytest.param(checked("00010519491231002"), id="province 00"),
        pytest.param(checked("99010519491231002"), id="province 99"),
        pytest.param(checked("11000019491231002"), id="no city or county"),
        pytest.param(checked("11010519900230001"), id="30 February"),
        pytest.param(checked("11010519900229001"), id="29 February 1990"),
        pytest.param(checked("11010519901301001"), id="month 13"),
        pytest.param(checked("11010519900100001"), id="day 0"),
        pytest.param(checked("11010518991231001"), id="born before 1900"),
    ],
)
def test_invalid_id_numbers_are_refused(value):
    with pytest.raises(IdentifierError):
        normalize_id_number(value, today=TODAY)


def test_29_february_of_a_leap_year_is_a_date():
    assert normalize_id_number(checked("11010520000229001"), today=TODAY)


def test_the_well_known_1880_example_is_refused_as_born_before_1900():
    # 440524188001010014 has a correct check digit (it is the standard's own example)
    assert id_check_digit("44052418800101001") == "4"
    with pytest.raises(IdentifierError, match="range"):
        normalize_id_number("440524188001010014")


def test_a_date_of_birth_in_the_future_is_refused():
    body = "110105" + f"{TODAY + dt.timedelta(days=1):%Y%m%d}" + "001"
    with pytest.raises(IdentifierError, match="range"):
        normalize_id_number(body + id_check_digit(body), today=TODAY)
    body = "110105" + f"{TODAY:%Y%m%d}" + "001"
    assert normalize_id_number(body + id_check_digit(body), today=TODAY)  # born today: fine


def test_errors_say_what_is_wrong():
    with pytest.raises(IdentifierError, match="18"):
        normalize_id_number("123")
    with pytest.raises(IdentifierError, match="check digit"):
        normalize_id_number("110105194912310021")
    with pytest.raises(IdentifierError, match="date of birth"):
        body = "11010519900230001"
        normalize_id_number(body + id_check_digit(body))


@settings(deadline=None)
@given(valid_ids())
@example("11010519491231002X")
def test_generated_id_numbers_pass_and_normalise_idempotently(value):
    once = normalize_id_number(value, today=TODAY)
    assert once == value
    assert normalize_id_number(once, today=TODAY) == once
    assert normalize_id_number(value.lower(), today=TODAY) == once
    born = ids.id_number_birth_date(once)
    assert dt.date(1900, 1, 1) <= born <= TODAY


@settings(deadline=None)
@given(valid_ids(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_every_single_substitution_in_an_id_number_is_refused(value, position, char):
    assume(value[position] != char)
    changed = value[:position] + char + value[position + 1 :]
    assert refused(normalize_id_number, changed, today=TODAY)


@settings(deadline=None)
@given(valid_ids())
def test_exhaustively_no_single_substitution_keeps_the_id_check(value):
    body = value[:17]
    for position in range(17):
        for char in "0123456789":
            if char != body[position]:
                changed = body[:position] + char + body[position + 1 :]
                assert id_check_digit(changed) != value[17]


@settings(deadline=None)
@given(valid_ids(), st.integers(0, 15))
def test_swapping_adjacent_different_digits_of_an_id_number_is_refused(value, position):
    a, b = value[position], value[position + 1]
    assume(a != b)
    swapped = value[:position] + b + a + value[position + 2 :]
    assert refused(normalize_id_number, swapped, today=TODAY)


@settings(deadline=None)
@given(valid_ids(), st.integers(0, 6))
def test_but_a_swap_ten_positions_apart_keeps_the_id_check_digit(value, position):
    """The true limit of mod 11 with these weights: not a claim the check can make."""
    chars = list(value[:17])
    chars[position], chars[position + 10] = chars[position + 10], chars[position]
    assert ids.ID_WEIGHTS[position] == ids.ID_WEIGHTS[position + 10]
    assert id_check_digit("".join(chars)) == value[17]


@settings(deadline=None)
@given(st.text(max_size=30).filter(lambda s: len(s.strip()) != 18))
def test_anything_not_18_characters_long_is_refused(value):
    assert refused(normalize_id_number, value)


# --- unified social credit codes -------------------------------------------------------


@pytest.mark.parametrize("value", REAL_CREDIT_CODES)
def test_known_credit_codes_are_valid(value):
    assert normalize_credit_code(value) == value
    assert normalize_credit_code(value.lower()) == value


def test_credit_code_weights_and_alphabet_follow_the_standard():
    assert len(USCC_CHARS) == 31
    assert not set("IOSVZ") & set(USCC_CHARS)
    assert tuple(3**i % 31 for i in range(17)) == ids.USCC_WEIGHTS
    assert len(set(ids.USCC_WEIGHTS)) == 17  # distinct: every transposition is caught


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("91350100M000100Y4", "18"),
        ("91350100M000100Y433", "18"),
        ("91350100M000100Y4I", "I"),
        ("91350100M00O100Y43", "O"),
        ("C1350100M000100Y43", "authority"),
        ("91990100M000100Y43", "region"),
        ("9135010AM000100Y43", "region"),
        ("91350100M000100Y53", "organisation"),
        ("91350100M000100Y44", "check character"),
    ],
)
def test_invalid_credit_codes_are_refused_with_a_reason(value, match):
    with pytest.raises(IdentifierError, match=match):
        normalize_credit_code(value)


@settings(deadline=None)
@given(valid_credit_codes())
def test_generated_credit_codes_pass_and_normalise_idempotently(value):
    assert normalize_credit_code(value) == value
    assert normalize_credit_code(normalize_credit_code(value)) == value
    assert normalize_credit_code(value.lower()) == value


@settings(deadline=None)
@given(valid_credit_codes(), st.integers(0, 17), st.sampled_from(USCC_CHARS))
@example("91350100M000100Y43", 8, "N")
def test_every_single_substitution_in_a_credit_code_is_refused(value, position, char):
    assume(value[position] != char)
    changed = value[:position] + char + value[position + 1 :]
    assert refused(normalize_credit_code, changed)


@settings(deadline=None)
@given(valid_credit_codes())
def test_exhaustively_no_single_substitution_keeps_the_credit_code_check(value):
    body = value[:17]
    for position in range(17):
        for char in USCC_CHARS:
            if char != body[position]:
                changed = body[:position] + char + body[position + 1 :]
                assert uscc_check_char(changed) != value[17]


@settings(deadline=None)
@given(valid_credit_codes(), st.integers(0, 16), st.integers(0, 16))
def test_swapping_any_two_different_characters_of_a_credit_code_is_refused(value, i, j):
    assume(i < j and value[i] != value[j])
    chars = list(value)
    chars[i], chars[j] = chars[j], chars[i]
    assert refused(normalize_credit_code, "".join(chars))


def test_the_organisation_code_check_alone_misses_substitutions_11_apart():
    org = "M000100Y"
    assert org_code_check_char(org) == "4"
    # '0' (value 0) → 'B' (value 11): the GB 11714 check is blind to it …
    blind = "MB00100Y"
    assert org_code_check_char(blind) == org_code_check_char(org)
    # … but the credit code's mod-31 check is not
    assert refused(normalize_credit_code, "91350100" + blind + "43")


# --- plates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("粤B12345", "粤B12345"),
        ("京AF0236", "京AF0236"),
        ("浙A1234挂", "浙A1234挂"),
        ("粤b·12345", "粤B12345"),
        ("粤B 12345", "粤B12345"),
        ("沪AD12345", "沪AD12345"),
        ("粤BDF1234", "粤BDF1234"),
        ("粤B12345D", "粤B12345D"),
        ("京ad12345", "京AD12345"),
    ],
)
def test_known_plates_are_valid(value, expected):
    assert normalize_plate(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "粤B1234",  # 6 characters
        "粤B1234567",  # 9 characters
        "港B12345",  # not a province abbreviation
        "AB12345",
        "粤I12345",  # I and O are never used
        "粤O12345",
        "粤B1234O",
        "粤BD1234I",
        "粤B12345I",
        "粤112345",  # the second character is a letter
        "粤BI12345",  # new-energy class letter without I
        "粤BZ12345",  # not a new-energy class letter
        "粤BDF123A",  # new-energy: the last four are digits
        "粤B1234DD",  # large new-energy: five digits then the class
    ],
)
def test_invalid_plates_are_refused(value):
    assert refused(normalize_plate, value)


@settings(deadline=None)
@given(any_valid_plate)
def test_generated_plates_pass_and_normalise_idempotently(value):
    once = normalize_plate(value)
    assert once == value
    assert normalize_plate(once) == once
    assert normalize_plate(value.lower()) == once
    assert normalize_plate(f"{value[:2]}·{value[2:]}") == once


@settings(deadline=None)
@given(st.one_of(small_new_energy_plates(), large_new_energy_plates()))
def test_new_energy_plates_have_8_characters(value):
    assert ids.is_new_energy_plate(normalize_plate(value))


@settings(deadline=None)
@given(ordinary_plates())
def test_ordinary_plates_are_not_new_energy(value):
    assert not ids.is_new_energy_plate(normalize_plate(value))


@settings(deadline=None)
@given(any_valid_plate, st.data())
def test_an_i_or_o_anywhere_after_the_province_is_refused(value, data):
    position = data.draw(st.integers(1, len(value) - 1))
    changed = value[:position] + data.draw(st.sampled_from("IO")) + value[position + 1 :]
    assert refused(normalize_plate, changed)


@settings(deadline=None)
@given(any_valid_plate, st.characters(exclude_characters=PROVINCE_ABBR))
def test_a_plate_must_start_with_a_province(value, first):
    assume(not first.isspace() and first not in "·•-")
    assert refused(normalize_plate, first + value[1:])


# --- phone numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13912345678", "13912345678"),
        ("+86 139 1234 5678", "13912345678"),
        ("0571-87654321", "0571-87654321"),
        ("(010)12345678", "01012345678"),
        ("110", "110"),
        ("4008123123", "4008123123"),
    ],
)
def test_valid_phone_numbers(value, expected):
    assert normalize_phone(value) == expected


@pytest.mark.parametrize(
    "value", ["", "12345678901", "1391234567", "139123456789", "23912345678", "0571-0765432"]
)
def test_invalid_phone_numbers(value):
    assert refused(normalize_phone, value)


# --- Django validators -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("validator", "good", "bad"),
    [
        (ids.validate_id_number, "11010519491231002X", "110105194912310021"),
        (ids.validate_credit_code, "91350100M000100Y43", "91350100M000100Y44"),
        (ids.validate_plate, "粤B12345", "粤I12345"),
        (ids.validate_phone, "13912345678", "1391234567"),
    ],
)
def test_django_validators(validator, good, bad):
    validator(good)
    with pytest.raises(ValidationError) as info:
        validator(bad)
    assert info.value.code == "invalid"
