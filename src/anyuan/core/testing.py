"""Helpers for tests: valid identifiers made from a sequence number."""

import datetime as dt

from anyuan.core.identifiers import USCC_CHARS, id_check_digit, org_code_check_char, uscc_check_char


def make_id_number(seq: int, region: str = "330206", born: dt.date = dt.date(1990, 1, 1)) -> str:
    """A valid 18-digit resident ID number; ``seq`` (0–999) sets the order code."""
    body = f"{region}{born:%Y%m%d}{seq % 1000:03d}"
    return body + id_check_digit(body)


def make_credit_code(seq: int, region: str = "330206") -> str:
    """A valid unified social credit code whose organisation code encodes ``seq``."""
    org = f"{seq % 10**8:08d}"
    body = f"91{region}{org}{org_code_check_char(org)}"
    return body + uscc_check_char(body)


def make_phone(seq: int) -> str:
    return f"139{seq % 10**8:08d}"


__all__ = ["USCC_CHARS", "make_credit_code", "make_id_number", "make_phone"]
