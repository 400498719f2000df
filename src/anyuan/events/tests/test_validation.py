"""The bulk fast path's schemas: narrower than the exact ones, never different."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from anyuan.events import ingest

AWKWARD = [" a", "a ", "\u3000x", "x\u2028", "x\x1c", "a\x00b", "a\ud800b", "", "中文 x", "x" * 65]
TEXTS = st.one_of(st.text(max_size=70), st.sampled_from(AWKWARD))
BASE = {"event_time": "2026-11-02T08:00:00+08:00", "method": "face", "kind": "tamper"}


def _same_or_narrower(fast_schema, exact_schema, raw: dict) -> bool:
    """True when the fast schema accepted (and then gave exactly the exact one's data)."""
    try:
        fast = fast_schema.model_validate(raw)
    except ValidationError:
        return False  # the exact schema decides, with its own message
    exact = exact_schema.model_validate(raw)  # raises if the fast one was wider
    assert fast.model_dump() == exact.model_dump()
    return True


@settings(max_examples=400, deadline=None)
@given(
    device=st.one_of(st.none(), TEXTS),
    event_id=st.one_of(TEXTS, st.integers()),
    credential=TEXTS,
    snapshot=TEXTS,
)
def test_the_fast_schemas_accept_only_what_the_exact_ones_take_unchanged(
    device, event_id, credential, snapshot
):
    raw = {**BASE, "event_id": event_id, "credential": credential, "snapshot": snapshot}
    if device is not None:
        raw["device"] = device
    _same_or_narrower(ingest._FAST_SCHEMAS[ingest.PASSAGE], ingest.PassageIn, raw)
    _same_or_narrower(ingest._FAST_SCHEMAS[ingest.ALARM], ingest.AlarmIn, raw)


@pytest.mark.parametrize("text", AWKWARD[:7])
def test_text_the_exact_schema_would_change_or_refuse_leaves_the_fast_path(text):
    raw = {**BASE, "event_id": "E1", "credential": text}
    assert not _same_or_narrower(ingest._FAST_SCHEMAS[ingest.PASSAGE], ingest.PassageIn, raw)


def test_a_clean_bulk_body_is_validated_in_one_call_and_an_awkward_one_item_by_item():
    clean = [
        {**BASE, "event_id": f"E{i}", "credential": "中文 x", "device": "G-1"} for i in range(3)
    ]
    assert [m.event_id for m in ingest._validate_all(ingest.PASSAGE, clean)] == ["E0", "E1", "E2"]
    awkward = [*clean, {**BASE, "event_id": 7, "credential": " A-1 "}]
    assert ingest._validate_all(ingest.PASSAGE, awkward) is None
    # … and item by item the awkward one is taken, as it always was
    item = ingest._validate(
        ingest.PASSAGE, 3, awkward[3], ingest.Prepared(ingest.PASSAGE, False, _now()), _lim()
    )
    assert (item.status, item.data.event_id, item.data.credential) == (None, "7", "A-1")


def _now():
    from django.utils import timezone

    return timezone.now()


def _lim():
    import dataclasses
    import datetime as dt

    return dataclasses.replace(ingest.limits(), max_age=dt.timedelta(days=100_000))


def _outcome(prepared) -> list[tuple]:
    return [
        (i.index, i.event_id, i.error, i.data.model_dump() if i.data is not None else None)
        for i in prepared.items
    ]


@pytest.mark.parametrize("extra", ["none", "future", "too_old", "sent_time"])
def test_a_body_checked_at_once_gives_what_item_by_item_checks_give(extra):
    """``_check_all`` checks a body's times once: the same items stored or refused, with
    the same messages and data, as the checks made item by item."""
    import datetime as dt
    import json

    received = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
    items = [
        {"event_id": "P1", "event_time": "2026-11-02T08:59:00+08:00", "method": "face"},
        {"event_id": "P2", "event_time": "2026-11-02T00:58:00Z", "method": "plate",
         "credential": "浙B·12-345"},
        {"event_id": "P3", "event_time": "2026-11-02T00:57:00Z", "method": "card"},
        {"event_id": "P4", "event_time": "2026-11-02T00:56:00Z", "method": "employee_number",
         "credential": "E7", "direction": "out", "confidence": 0.5},
    ]  # fmt: skip
    if extra == "future":
        items.append({"event_id": "P5", "event_time": "2026-11-02T03:00:00Z", "method": "face"})
    elif extra == "too_old":
        items.append({"event_id": "P5", "event_time": "2026-09-02T03:00:00Z", "method": "face"})
    elif extra == "sent_time":
        items[0]["sent_time"] = "2026-08-02T01:00:00Z"  # not plausible
    body = json.dumps(items).encode()
    assert ingest._validate_all(ingest.PASSAGE, json.loads(body)) is not None  # one call
    at_once = ingest.prepare(ingest.PASSAGE, body, "application/json", received=received)
    one_by_one = ingest.Prepared(ingest.PASSAGE, single=False, received=received)
    one_by_one.items = [
        ingest._validate(ingest.PASSAGE, i, raw, one_by_one, ingest.limits())
        for i, raw in enumerate(json.loads(body))
    ]
    assert _outcome(at_once) == _outcome(one_by_one)
    assert at_once.latest_event_time == one_by_one.latest_event_time
    outcome = {i.event_id: (i.error or {}).get("code") for i in at_once.items}
    assert outcome["P3"] == "required"  # a card passage without its card number
    assert at_once.items[1].data.credential == "浙B12345"
    expected = {"none": None, "future": "future", "too_old": "too_old", "sent_time": None}
    assert outcome.get("P5") == expected[extra]
    if extra == "sent_time":
        assert outcome["P1"] == "invalid"
