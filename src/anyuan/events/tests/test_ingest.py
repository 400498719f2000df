"""Ingestion: every test runs twice, through the Ninja endpoints and through the lean ASGI
route, and expects the same answers and the same rows."""

import datetime as dt
import json
import sqlite3
from types import SimpleNamespace

import pytest
from django.db import connection

from anyuan.events import actions
from anyuan.events.models import DeviceAlarm, DeviceLink, Passage
from anyuan.events.tests.conftest import NDJSON, iso, now, passage

pytestmark = pytest.mark.django_db


def stored(device=None):
    qs = Passage.objects.all()
    return qs.filter(device=device) if device is not None else qs


def test_single_passage_is_stored_with_both_times(send, devices, world):
    when = now() - dt.timedelta(seconds=3)
    before = now()
    answer = send(
        "/ingest/passages", passage("1001", when, snapshot="snap/1001.jpg"), devices.own.token
    )
    assert answer.status == 201, answer.body
    assert answer.body["status"] == "stored"
    assert answer.body["event_id"] == "1001"
    row = stored().get()
    assert row.device == devices.own.device
    assert row.zone == world.own.zone  # denormalised from the device
    assert row.device_event_id == "1001"
    assert row.event_time == when.replace(microsecond=when.microsecond)
    assert before <= row.received_time <= now()
    assert row.direction == "in"  # the device's own direction
    assert (row.method, row.credential, row.confidence) == ("card", "C-0001", 0.97)
    assert row.snapshot == "snap/1001.jpg"
    link = DeviceLink.objects.get(device=devices.own.device)
    assert link.last_seen == row.received_time
    assert not link.clock_skew


def test_repeated_delivery_is_accepted_and_stored_once(send, devices):
    item = passage(42)  # an integer id is the same event as the text "42"
    first = send("/ingest/passages", item, devices.own.token)
    again = send("/ingest/passages", {**item, "event_id": "42"}, devices.own.token)
    assert first.status == 201
    assert again.status == 200
    assert again.body["status"] == "duplicate"
    in_bulk = send("/ingest/passages/bulk", [item, item, passage("43")], devices.own.token)
    assert in_bulk.status == 200
    assert [r["status"] for r in in_bulk.body["results"]] == ["duplicate", "duplicate", "stored"]
    assert (in_bulk.body["stored"], in_bulk.body["duplicates"]) == (1, 2)
    assert stored().count() == 2


def test_same_event_id_on_two_devices_is_two_events(send, devices):
    assert send("/ingest/passages", passage("7"), devices.own.token).status == 201
    assert send("/ingest/passages", passage("7"), devices.neighbour.token).status == 201
    assert stored().count() == 2


def test_bulk_json_array_and_ndjson(send, devices):
    t0 = now() - dt.timedelta(minutes=5)
    items = [passage(f"B{i}", t0 + dt.timedelta(seconds=i)) for i in range(50)]
    answer = send("/ingest/passages/bulk", items[:25], devices.own.token)
    assert answer.status == 200, answer.body
    assert answer.body["stored"] == 25
    answer = send("/ingest/passages/bulk", items[25:], devices.own.token, content_type=NDJSON)
    assert answer.status == 200, answer.body
    assert answer.body["stored"] == 25
    assert [r["index"] for r in answer.body["results"]] == list(range(25))
    assert {r["event_id"] for r in answer.body["results"]} == {f"B{i}" for i in range(25, 50)}
    assert stored().count() == 50
    # the plain endpoint takes an array too, and a bulk of one object answers as a batch
    answer = send("/ingest/passages", [passage("B50")], devices.own.token)
    assert answer.status == 200 and answer.body["stored"] == 1
    answer = send("/ingest/passages/bulk", passage("B51"), devices.own.token)
    assert answer.status == 200 and answer.body["results"][0]["status"] == "stored"


def test_mixed_bulk_stores_exactly_the_good_items(send, devices):
    t = now() - dt.timedelta(seconds=30)
    items = [
        passage("G1", t),
        passage("X1", t, method="iris"),
        {"event_id": "X2", "method": "card", "credential": "C-1"},  # no event time
        passage("X3", t.replace(tzinfo=None)),  # no UTC offset
        passage("G2", t, direction="out"),
        passage("X4", now() + dt.timedelta(hours=3)),  # far in the future
        "not an object",
        passage("X5", t, confidence=1.5),
        passage("X6", t, credential=""),  # a card passage needs its card number
        passage("X7", t, device=devices.neighbour.serial),  # another device's event
        passage("X8", now() - dt.timedelta(days=400)),
        passage("G3", t, method="plate", credential=" 浙B·12345 "),
        passage("X9 bad id", t),
        passage("G1", t),  # repeated inside the batch
    ]
    answer = send("/ingest/passages/bulk", items, devices.own.token)
    assert answer.status == 200, answer.body
    results = answer.body["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    by_index = {r["index"]: r for r in results}
    assert [by_index[i]["status"] for i in (0, 4, 11)] == ["stored"] * 3
    assert by_index[13]["status"] == "duplicate"
    expected = {
        1: ("method", "invalid"),
        2: ("event_time", "invalid"),
        3: ("event_time", "invalid"),
        5: ("event_time", "future"),
        6: ("", "invalid"),
        7: ("confidence", "invalid"),
        8: ("credential", "required"),
        9: ("device", "device"),
        10: ("event_time", "too_old"),
        12: ("event_id", "invalid"),
    }
    for index, (field, code) in expected.items():
        result = by_index[index]
        assert result["status"] == "refused", result
        assert result["error"]["field"] == field, result
        assert result["error"]["code"] == code, result
        assert result["error"]["message"], result
    assert by_index[1]["event_id"] == "X1"
    assert (answer.body["stored"], answer.body["duplicates"], answer.body["refused"]) == (3, 1, 10)
    rows = {p.device_event_id: p for p in stored()}
    assert set(rows) == {"G1", "G2", "G3"}
    assert rows["G2"].direction == "out"
    assert rows["G3"].credential == "浙B12345"  # plates are stored without separators


def test_a_batch_with_nothing_accepted_is_422(send, devices):
    answer = send(
        "/ingest/passages/bulk", [passage("F", now() + dt.timedelta(days=1))], devices.own.token
    )
    assert answer.status == 422
    assert answer.body["refused"] == 1
    empty = send("/ingest/passages/bulk", [], devices.own.token)
    assert empty.status == 200 and empty.body["results"] == []


def test_a_single_refused_event_says_why(send, devices):
    answer = send("/ingest/passages", passage("S1", method="iris"), devices.own.token)
    assert answer.status == 422
    assert answer.body["status"] == "refused"
    assert answer.body["error"]["field"] == "method"
    assert answer.body["detail"] == answer.body["error"]["message"]
    assert not stored().exists()


def test_device_tokens(send, devices):
    item = passage("T1")
    for token in (None, "", "ayd_unknown_token"):
        answer = send("/ingest/passages", item, token)
        assert answer.status == 401, (token, answer.body)
        assert answer.body["detail"]
    answer = send("/ingest/passages", item, devices.own.token + "x")
    assert answer.status == 401
    # a token of device A naming device B
    answer = send("/ingest/passages", {**item, "device": devices.foreign.serial}, devices.own.token)
    assert answer.status == 403
    assert answer.body["error"]["field"] == "device"
    # naming its own device is fine
    answer = send("/ingest/passages", {**item, "device": devices.own.serial}, devices.own.token)
    assert answer.status == 201
    device = devices.neighbour.device
    device.active = False
    device.save()
    answer = send("/ingest/passages", passage("T2"), devices.neighbour.token)
    assert answer.status == 403
    assert stored().count() == 1


def test_a_wrong_token_is_refused_before_the_body_is_looked_at(send, devices, settings):
    assert send("/ingest/passages", b"{not json", "ayd_wrong").status == 401
    settings.ANYUAN_INGEST_MAX_BYTES = 100
    assert (
        send("/ingest/passages/bulk", [passage(str(i)) for i in range(10)], "ayd_wrong").status
        == 401
    )
    assert (
        send(
            "/ingest/passages/bulk", [passage(str(i)) for i in range(10)], devices.own.token
        ).status
        == 413
    )


def test_two_way_device_needs_the_direction(send, devices):
    answer = send("/ingest/passages", passage("D1"), devices.both.token)
    assert answer.status == 422
    assert answer.body["error"]["field"] == "direction"
    answer = send("/ingest/passages", passage("D1", direction="out"), devices.both.token)
    assert answer.status == 201
    assert stored().get().direction == "out"


def test_event_far_in_the_future_is_refused(send, devices, settings):
    settings.ANYUAN_EVENT_MAX_FUTURE_S = 600
    answer = send(
        "/ingest/passages", passage("F1", now() + dt.timedelta(minutes=11)), devices.own.token
    )
    assert answer.status == 422
    assert answer.body["error"]["code"] == "future"
    assert "10" in answer.body["error"]["message"]
    ok = send("/ingest/passages", passage("F2", now() + dt.timedelta(minutes=9)), devices.own.token)
    assert ok.status == 201
    # an event ahead of the platform clock shows a clock that is ahead: the device is flagged
    assert DeviceLink.objects.get(device=devices.own.device).clock_skew


def test_late_and_out_of_order_events_are_kept_and_placed_by_event_time(
    send, devices, world, client
):
    t = now()
    late = [
        passage("O3", t - dt.timedelta(minutes=1)),
        passage("O1", t - dt.timedelta(hours=5)),  # buffered while the device was offline
        passage("O2", t - dt.timedelta(hours=2)),
    ]
    for item in late:
        assert send("/ingest/passages", item, devices.own.token).status == 201
    rows = list(stored().order_by("id"))
    assert [r.device_event_id for r in rows] == ["O3", "O1", "O2"]  # arrival order
    assert all(r.received_time >= t for r in rows)
    assert [r.device_event_id for r in stored()] == ["O3", "O2", "O1"]  # by event time
    # late events alone do not make the device's clock suspect
    assert not DeviceLink.objects.get(device=devices.own.device).clock_skew
    client.force_login(world.users["police_admin"])
    listed = client.get("/api/v1/events/passages").json()["items"]
    assert [p["device_event_id"] for p in listed] == ["O3", "O2", "O1"]


def test_heartbeat_measures_and_flags_the_clock(send, devices, settings):
    settings.ANYUAN_CLOCK_SKEW_TOLERANCE_S = 120
    device = devices.own.device
    answer = send(
        "/ingest/heartbeat",
        {"event_time": iso(now() - dt.timedelta(minutes=10))},
        devices.own.token,
    )
    assert answer.status == 200, answer.body
    assert answer.body["clock_skew"] is True
    assert -601 < answer.body["clock_offset_s"] < -599
    link = DeviceLink.objects.get(device=device)
    assert link.clock_skew and link.last_heartbeat is not None
    assert -601 < link.clock_offset_s < -599
    # a clock far ahead is measured too (a heartbeat is never refused for its time)
    answer = send(
        "/ingest/heartbeat", {"event_time": iso(now() + dt.timedelta(days=2))}, devices.own.token
    )
    assert answer.status == 200 and answer.body["clock_skew"] is True
    answer = send("/ingest/heartbeat", {"event_time": iso(now())}, devices.own.token)
    assert answer.body["clock_skew"] is False
    assert not DeviceLink.objects.get(device=device).clock_skew
    bad = send("/ingest/heartbeat", {"event_time": "yesterday"}, devices.own.token)
    assert bad.status == 422 and bad.body["error"]["field"] == "event_time"
    assert send("/ingest/heartbeat", [{"event_time": iso(now())}], devices.own.token).status == 422


def test_sent_time_measures_the_clock_of_buffered_events(send, devices):
    t = now()
    items = [
        passage("ST1", t - dt.timedelta(hours=3), sent_time=iso(t - dt.timedelta(minutes=7))),
        passage("ST2", t - dt.timedelta(hours=2), sent_time=iso(t - dt.timedelta(minutes=7))),
    ]
    answer = send("/ingest/passages/bulk", items, devices.own.token)
    assert answer.status == 200 and answer.body["stored"] == 2
    link = DeviceLink.objects.get(device=devices.own.device)
    assert link.clock_skew
    assert -421 < link.clock_offset_s < -419


def test_clock_ahead_flags_the_device_from_passages(send, devices):
    answer = send(
        "/ingest/passages", passage("A1", now() + dt.timedelta(minutes=5)), devices.own.token
    )
    assert answer.status == 201  # kept: the event is real, the clock is wrong
    link = DeviceLink.objects.get(device=devices.own.device)
    assert link.clock_skew and link.clock_offset_s > 290


def test_alarms(send, devices, world):
    t = now() - dt.timedelta(seconds=5)
    items = [
        {"event_id": "AL1", "event_time": iso(t), "kind": "intrusion", "state": "start"},
        {
            "event_id": "AL2",
            "event_time": iso(t),
            "kind": "object_missing",
            "detail": {"target": "保险柜"},
        },
        {"event_id": "AL3", "event_time": iso(t), "kind": "door_forced", "state": "stop"},
        {"event_id": "AL4", "event_time": iso(t), "kind": "tamper"},
        {"event_id": "AL5", "event_time": iso(t), "kind": "object_removed"},
        {"event_id": "AL6", "event_time": iso(t), "kind": "smoke"},
        {"event_id": "AL7", "event_time": iso(t), "kind": "tamper", "detail": {"x": "y" * 5000}},
        {"event_id": "AL8", "event_time": iso(t), "kind": "tamper", "detail": [1, 2]},
    ]
    answer = send("/ingest/alarms", items, devices.own.token)
    assert answer.status == 200, answer.body
    assert [r["status"] for r in answer.body["results"]] == ["stored"] * 5 + ["refused"] * 3
    assert {r["error"]["field"] for r in answer.body["results"][5:]} == {"kind", "detail"}
    alarm = DeviceAlarm.objects.get(device_event_id="AL2")
    assert alarm.detail == {"target": "保险柜"}
    assert alarm.state == "pulse" and alarm.zone == world.own.zone
    again = send("/ingest/alarms", items[0], devices.own.token)
    assert again.status == 200 and again.body["status"] == "duplicate"
    assert DeviceAlarm.objects.count() == 5


def test_oversized_body_is_413(send, devices, settings):
    settings.ANYUAN_INGEST_MAX_BYTES = 2000
    items = [passage(f"L{i}") for i in range(30)]
    answer = send("/ingest/passages/bulk", items, devices.own.token)
    assert answer.status == 413
    assert "2000" in answer.body["detail"]
    assert not stored().exists()


def test_more_than_ten_thousand_items_are_refused(send, devices):
    t = iso(now())
    one = {"event_id": "0", "event_time": t, "method": "face", "credential": ""}
    items = [{**one, "event_id": str(i)} for i in range(10_001)]
    answer = send("/ingest/passages/bulk", items, devices.own.token)
    assert answer.status == 413
    assert "10000" in answer.body["detail"].replace(",", "")
    assert "10001" in answer.body["detail"].replace(",", "")
    answer = send("/ingest/passages/bulk", items, devices.own.token, content_type=NDJSON)
    assert answer.status == 413
    assert not stored().exists()
    answer = send("/ingest/passages/bulk", items[:10_000], devices.own.token, content_type=NDJSON)
    assert answer.status == 200
    assert answer.body["stored"] == 10_000
    assert stored().count() == 10_000


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"{not json",
        b"\xff\xfe\x00",
        b"[" * 100_000 + b"]" * 100_000,
        b"42",
        b'"text"',
        b"null",
        b'{"event_id": "1", "event_time": NaN}',
    ],
)
def test_malformed_bodies_get_a_clear_4xx(send, devices, body):
    answer = send("/ingest/passages", body, devices.own.token)
    assert 400 <= answer.status < 500, answer.body
    assert answer.body.get("detail") or answer.body.get("results") is not None


@pytest.mark.parametrize(
    "item",
    [
        {"event_id": "N1", "credential": "a\x00b"},
        {"event_id": "N2", "credential": "a\ud800b"},
        {"event_id": "N3", "snapshot": "x" * 256},
        {"event_id": "N4", "confidence": float("inf")},
        {"event_id": "N5", "event_time": "0001-01-01T00:00:00+14:00"},
        {"event_id": "N6", "event_time": "9999-12-31T23:59:59-12:00"},
        {"event_id": "N7", "event_time": 1767225600000},
        {"event_id": True},
        {"event_id": "x" * 65},
        {"event_id": 10**70},
        {"event_id": ["1"]},
        {"event_id": "N8", "method": None},
        {"event_id": "N9", "confidence": "high"},
        {"event_id": "N10", "direction": "sideways"},
    ],
)
def test_malformed_fields_are_refused_not_stored(send, devices, item):
    body = {**passage("N"), **item}
    raw = json.dumps(body, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")
    answer = send("/ingest/passages/bulk", raw, devices.own.token)
    assert answer.status in (400, 422), answer.body
    assert not stored().exists()


def test_escaped_lone_surrogates_and_nul_are_refused(send, devices):
    t = iso(now())
    for text in ("a\\ud800b", "a\\u0000b"):
        raw = f'{{"event_id": "E", "event_time": "{t}", "method": "face", "credential": "{text}"}}'
        answer = send("/ingest/passages", raw.encode(), devices.own.token)
        assert answer.status == 422, answer.body
        assert answer.body["error"]["field"] == "credential"
        alarm = (
            f'{{"event_id": "E", "event_time": "{t}", "kind": "tamper", "detail": {{"{text}": 1}}}}'
        )
        answer = send("/ingest/alarms", alarm.encode(), devices.own.token)
        assert answer.status == 422, answer.body
        assert answer.body["error"]["field"] == "detail"
    assert not stored().exists()
    assert not DeviceAlarm.objects.exists()


def test_big_event_ids_are_kept_as_text(send, devices):
    answer = send("/ingest/passages", passage(2**80), devices.own.token)
    assert answer.status == 201
    assert stored().get().device_event_id == str(2**80)


def test_ndjson_line_that_is_not_json_is_refused_alone(send, devices):
    body = "\n".join([json.dumps(passage("J1")), "{oops", "", json.dumps(passage("J2"))])
    answer = send("/ingest/passages/bulk", body, devices.own.token, content_type=NDJSON)
    assert answer.status == 200
    assert [r["status"] for r in answer.body["results"]] == ["stored", "refused", "stored"]
    assert answer.body["results"][1]["error"]["code"] == "json"
    assert stored().count() == 2


def test_database_failure_is_503_and_stores_nothing(send, devices, monkeypatch):
    from django.db import OperationalError

    from anyuan.events import actions

    def broken(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(actions, "_update_links", broken)
    answer = send("/ingest/passages", passage("DB1"), devices.own.token)
    assert answer.status == 503
    assert answer.body["detail"]
    assert not stored().exists()


def test_messages_follow_the_language_cookie(send, devices):
    answer = send("/ingest/passages", passage("L1", method="iris"), devices.own.token,
                  headers={"cookie": "django_language=en"})  # fmt: skip
    assert answer.body["error"]["message"].startswith("Choose one of")


def test_ingestion_has_its_own_body_limit_not_the_forms_one(send, devices, settings):
    """Bulk bodies are larger than forms: Django's upload limit does not apply."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    items = [passage(f"U{i}", snapshot="s" * 200) for i in range(50)]
    answer = send("/ingest/passages/bulk", items, devices.own.token)
    assert answer.status == 200, answer.body
    assert answer.body["stored"] == 50


@pytest.mark.django_db(transaction=True)
def test_a_broken_connection_is_reopened_and_the_request_tried_again(devices, monkeypatch):
    """The committer thread keeps its connection for ever; when the database server drops
    it, the next request is committed on a fresh one rather than refused."""
    from django.db import OperationalError, connection

    from anyuan.events import actions
    from anyuan.events.ingest import prepare

    real_store, calls = actions.store, []

    def drops_once(staged, lim):
        calls.append(1)
        if len(calls) == 1:
            if connection.vendor == "postgresql":  # the server really drops us
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            raise OperationalError("server closed the connection unexpectedly")
        return real_store(staged, lim)

    monkeypatch.setattr(actions, "store", drops_once)
    if connection.vendor != "postgresql":  # a SQLite connection is never lost
        monkeypatch.setattr(actions, "_reconnectable", lambda exc: True)
    prepared = prepare("passage", json.dumps(passage("R1")).encode(), received=now())
    reply = actions.commit_or_busy([actions.Job(prepared, token=devices.own.token)])[0]
    assert reply.status == 201, reply.body
    assert len(calls) == 2
    assert stored().filter(device_event_id="R1").count() == 1


# --- a platform's token: the events of the devices registered under it ----------------------


@pytest.fixture
def platform(devices, world):
    from anyuan.registry.models import Device

    hub = Device.objects.create(
        zone=world.own.zone, name="园区门禁平台", kind="platform", serial="PLATFORM-1"
    )
    token = hub.new_token()
    hub.save()
    for d in (devices.own.device, devices.both.device):
        d.upstream = hub
        d.save()
    return SimpleNamespace(device=hub, token=token)


def test_a_platform_uploads_for_the_devices_under_it(send, devices, platform):
    when = now() - dt.timedelta(minutes=5)
    ahead = now() + dt.timedelta(minutes=10)  # a device whose clock runs 10 minutes fast
    body = [
        passage("p1", when, device=devices.own.serial),
        passage("p2", ahead, device=devices.both.serial, direction="out"),
    ]
    answer = send("/ingest/passages/bulk", body, platform.token)
    assert answer.status == 200, answer.body
    assert answer.body["stored"] == 2
    rows = {r.device_event_id: r for r in stored()}
    assert rows["p1"].device == devices.own.device and rows["p1"].direction == "in"
    assert rows["p2"].device == devices.both.device and rows["p2"].direction == "out"
    assert rows["p1"].zone == devices.own.device.zone
    heard = dict(DeviceLink.objects.values_list("device__serial", "last_seen"))
    assert heard[devices.own.serial] == heard[devices.both.serial] == heard["PLATFORM-1"]
    # a device's clock is no measure of the platform's
    assert not DeviceLink.objects.get(device=platform.device).clock_skew
    again = send("/ingest/passages/bulk", body, platform.token)
    assert again.body["duplicates"] == 2 and stored().count() == 2


def test_a_platform_may_not_speak_for_other_devices(send, devices, platform):
    devices.both.device.active = False
    devices.both.device.save()
    body = [
        passage("q1", device=devices.own.serial),
        passage("q2"),  # which device?
        passage("q3", device=devices.neighbour.serial),  # not registered under it
        passage("q4", device=devices.foreign.serial),  # another station's
        passage("q5", device="PLATFORM-1"),  # the platform itself sees nobody
        passage("q6", device=devices.both.serial),  # deactivated
    ]
    answer = send("/ingest/passages/bulk", body, platform.token)
    assert answer.status == 200, answer.body
    results = {r["event_id"]: r for r in answer.body["results"]}
    assert results["q1"]["status"] == "stored"
    assert results["q2"]["error"]["code"] == "required"
    for refused in ("q3", "q4", "q5", "q6"):
        assert results[refused]["status"] == "refused"
        assert results[refused]["error"]["code"] == "device"
    assert list(stored().values_list("device_event_id", flat=True)) == ["q1"]
    # a device's own token still cannot speak for a device under the platform
    own = send("/ingest/passages", passage("q7", device=devices.both.serial), devices.own.token)
    assert own.status == 403


def test_only_a_platform_of_the_same_station_can_be_upstream(devices, world, platform):
    from django.core.exceptions import ValidationError

    from anyuan.registry.models import Device

    def refused(device) -> str:
        with pytest.raises(ValidationError) as caught:
            device.full_clean()
        return caught.value.error_dict["upstream"][0].code

    gate = devices.foreign.device
    gate.upstream = platform.device
    assert refused(gate) == "other_station"
    gate.upstream = devices.neighbour.device  # a gate: not among the field's choices
    assert refused(gate) == "invalid"
    with pytest.raises(ValidationError) as caught:  # and the model says why
        gate.clean()
    assert caught.value.error_dict["upstream"][0].code == "not_platform"
    platform.device.upstream = Device.objects.create(
        zone=world.own.zone, name="上级平台", kind="platform", serial="PLATFORM-2"
    )
    assert refused(platform.device) == "nested"
    gate = devices.neighbour.device
    gate.upstream = platform.device  # the same station: fine
    gate.full_clean()


@pytest.mark.parametrize("duplicate", [False, True])
@pytest.mark.parametrize("n", [1, 3, 4, 5, 64, 65, 1025, 2049, 4096, 4097, 5000])
def test_bulk_of_any_size_is_stored_in_order_once(send, devices, n, duplicate):
    """SQLite inserts in statements of a few fixed sizes, the last padded: every size
    around them stores each row once, in request order, and tells stored from duplicate
    (all stored: by the statements' row counts; some duplicate: read back)."""
    t0 = now() - dt.timedelta(minutes=5)
    items = [passage(f"S{i}", t0 + dt.timedelta(milliseconds=i)) for i in range(n)]
    earlier = items[n // 2] if duplicate else None  # a duplicate mid-statement
    if earlier is not None:
        assert send("/ingest/passages", earlier, devices.own.token).status == 201
    answer = send("/ingest/passages/bulk", items, devices.own.token)
    assert answer.status == 200, answer.body
    assert (answer.body["stored"], answer.body["duplicates"]) == (n - duplicate, duplicate)
    statuses = [r["status"] for r in answer.body["results"]]
    assert statuses == ["duplicate" if i is earlier else "stored" for i in items]
    log = list(stored().order_by("pk").values_list("device_event_id", flat=True))
    first = [earlier["event_id"]] if earlier is not None else []
    assert log == first + [i["event_id"] for i in items if i is not earlier]


def test_alarms_in_bulk_of_an_odd_size(send, devices):
    """The alarms' table takes the same padded statements."""
    t = now() - dt.timedelta(seconds=5)
    items = [
        {"event_id": f"AB{i}", "event_time": iso(t), "kind": "tamper"} for i in range(67)
    ]  # 64 + 4 − 1: a statement of 64 rows, then one of 4 with a row of NULLs
    answer = send("/ingest/alarms", items, devices.own.token)
    assert answer.status == 200, answer.body
    assert answer.body["stored"] == 67
    ids = DeviceAlarm.objects.order_by("pk").values_list("device_event_id", flat=True)
    assert list(ids) == [i["event_id"] for i in items]
    assert not DeviceAlarm.objects.filter(device=None).exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL inserts arrays")
def test_a_low_parameter_limit_gives_smaller_statements(devices):
    """The statements stay within the driver's parameter limit: SQLite's default is
    32,766 (3,276 rows of ten columns), some builds allow 999, Debian's 250,000."""
    connection.ensure_connection()
    raw = connection.connection
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    expected = {250_000: 4096, 32_766: 2048, 999: 64, 9: 1}
    try:
        for allowed in expected:
            raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, allowed)
            # a build's own maximum caps what may be set (Debian's: 250,000)
            effective = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            assert actions._statement_rows(5000, 10) == expected[effective], effective
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        assert actions._statement_rows(10, 10) == 16
        assert actions._statement_rows(1, 10) == 1
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
        assert actions._statement_rows(904, 10) == 1024
        assert actions._statement_rows(1500, 10) == 2048
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
