"""Characters no text field may hold, and what a spreadsheet would run as a formula.

One definition for input and output: :func:`anyuan.core.actions.check_text` refuses text
with a control character (every action passes its input through it), and the one
spreadsheet writer (:mod:`anyuan.core.spreadsheets`) strips them from rows written before the rule
(an XLSX file cannot hold them at all: openpyxl's ``ILLEGAL_CHARACTERS_RE`` is a subset).

Refused: the C0 controls except tab, line feed and carriage return; DEL and the C1
controls (never typed, only pasted from broken sources); lone surrogates (not UTF-8) and
the non-characters U+FFFE/U+FFFF (not XML).
"""

import re

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

# Leading characters a spreadsheet would run as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def has_control_characters(value) -> bool:
    """True if ``value`` (text, or a dict/list of them, keys included) holds one."""
    if isinstance(value, str):
        return CONTROL_CHARACTERS.search(value) is not None
    if isinstance(value, dict):
        return any(has_control_characters(k) or has_control_characters(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(has_control_characters(v) for v in value)
    return False


def strip_control_characters(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)
