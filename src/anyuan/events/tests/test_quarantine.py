"""One event must not stop every alert: what the processor cannot place is set aside in
the quarantine with its reason, the rest of its batch is committed, the processor goes
on, and the police replay the event once its cause is fixed (issue 16)."""

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client

from anyuan.alerts.evaluator import Evaluator
from anyuan.alerts.models import Alert
from anyuan.core.models import AuditEntry
from anyuan.core.roles import Role
from anyuan.events import actions
from anyuan.events.models import Passage, Presence, ProcessorCheckpoint, Quarantine
from anyuan.events.processor import Processor
from anyuan.events.tests.conftest import passage, via_ninja
from anyuan.registry.models import Person

T = Alert.Type


def strangers() -> set[str]:
    return set(Alert.objects.filter(type=T.STRANGER).values_list("credential", flat=True))


def send(devices, *items):
    answer = via_ninja("/ingest/passages", list(items), token=devices.own.token)
    assert answer.status == 200 and answer.body["stored"] == len(items), answer.body
    return [Passage.objects.get(device_event_id=item["event_id"]) for item in items]


# the database refuses a reference only when the transaction commits (deferred foreign
# keys): these tests commit for real
@pytest.mark.django_db(transaction=True)
def test_a_passage_of_a_person_deleted_a_moment_before_is_set_aside(world, devices):
    """The finding: a card's person deleted between the processor's map load and the
    batch's write made ``anyuan process`` exit with ``IntegrityError: FOREIGN KEY
    constraint failed``, and every alert stopped."""
    own = world.own
    dora = Person.objects.create(
        station=world.home.station, enterprise=own.enterprise, name="Dora", card_number="C-DORA"
    )
    # the maps are loaded now (refreshed every hour here: the race is certain)
    proc = Processor(on_facts=Evaluator(refresh_seconds=3600), refresh_seconds=3600)
    deleted = dora.pk
    dora.delete()
    bad, nobody = send(
        devices, passage("q-1", credential="C-DORA"), passage("q-2", credential="C-NOBODY")
    )

    result = proc.process_batch()  # no IntegrityError

    assert (result.processed, result.set_aside) == (2, 1)
    (held,) = Quarantine.objects.all()
    assert (held.passage_id, held.alarm_id, held.zone_id) == (bad.pk, None, own.zone.pk)
    assert held.reason == Quarantine.Reason.SUBJECT_DELETED
    assert held.message == f"card C-DORA → person {deleted}"
    assert (held.state, held.processor, held.attempts) == ("held", "presence", 1)
    # the rest of the batch is committed, its alerts raised, the checkpoint past both
    assert strangers() == {"C-NOBODY"}
    assert Presence.objects.filter(entry_passage_id=nobody.pk).exists()
    assert not Presence.objects.filter(entry_passage_id=bad.pk).exists()
    assert ProcessorCheckpoint.last_passage("presence") == nobody.pk

    # the processor goes on: the following passages are processed, alerts still raised;
    # its maps were reloaded, so the card now matches nobody (a stranger)
    later = send(devices, passage("q-3", credential="C-OTHER"), passage("q-4", credential="C-DORA"))
    result = proc.process_batch()
    assert (result.processed, result.set_aside) == (2, 0)
    assert strangers() == {"C-NOBODY", "C-OTHER", "C-DORA"}
    assert ProcessorCheckpoint.last_passage("presence") == later[-1].pk
    assert Quarantine.objects.count() == 1

    # the registry is corrected (Dora registered again), the police replay the passage
    restored = Person.objects.create(
        station=world.home.station, enterprise=own.enterprise, name="Dora", card_number="C-DORA"
    )
    police = world.users[Role.POLICE_ADMIN]
    actions.replay(police, held)
    held.refresh_from_db()
    assert held.state == Quarantine.State.QUEUED
    entry = AuditEntry.objects.get(object_type="events.quarantine", object_id=str(held.pk))
    assert entry.actor == police and entry.after == {"transition": "replay", "state": "queued"}
    proc.refresh_seconds = 0  # the next batch looks for replays now
    result = proc.process_batch()
    assert result.replayed == 1
    held.refresh_from_db()
    assert held.state == Quarantine.State.REPLAYED and held.replayed_at is not None
    stay = Presence.objects.get(entry_passage_id=bad.pk)
    assert stay.person_id == restored.pk
    # Dora has no authorisation for the workshop: the replay raises what the rules say
    assert Alert.objects.filter(type=T.UNAUTHORISED_ZONE, person=restored).exists()
    assert ProcessorCheckpoint.last_passage("presence") == later[-1].pk  # unchanged


@pytest.mark.django_db(transaction=True)
def test_a_vehicle_deleted_a_moment_before_is_set_aside_too(world, devices):
    car = world.own.vehicle
    proc = Processor(on_facts=Evaluator(refresh_seconds=3600), refresh_seconds=3600)
    Vehicle = type(car)
    Vehicle.objects.filter(pk=car.pk).delete()
    (bad,) = send(devices, passage("v-1", method="plate", credential=car.plate))
    result = proc.process_batch()
    assert result.set_aside == 1
    (held,) = Quarantine.objects.all()
    assert held.passage_id == bad.pk
    assert held.message == f"plate {car.plate} → vehicle {car.pk}"


def test_an_unexpected_value_in_the_rules_is_set_aside_and_the_command_goes_on(
    world, devices, monkeypatch, capsys
):
    """A rule failing on one fact (a value it did not expect): that passage is set aside
    (the rules name it), every other one processed, the command does not die."""
    real = Evaluator.stranger

    def stranger(self, fact, zone):
        if fact["credential"] == "C-BAD":
            raise ValueError("a value nobody expected")
        return real(self, fact, zone)

    monkeypatch.setattr(Evaluator, "stranger", stranger)
    _first, bad, last = send(
        devices,
        passage("u-1", credential="C-ONE"),
        passage("u-2", credential="C-BAD"),
        passage("u-3", credential="C-THREE"),
    )
    call_command("process", "--once")
    (held,) = Quarantine.objects.all()
    assert held.passage_id == bad.pk
    assert held.reason == Quarantine.Reason.UNEXPECTED
    assert held.message == "ValueError: a value nobody expected"
    assert strangers() == {"C-ONE", "C-THREE"}
    assert ProcessorCheckpoint.last_passage("presence") == last.pk
    assert "1 set aside" in capsys.readouterr().out

    # replayed while the cause is still there: held again, with the attempt counted
    actions.replay(world.users[Role.POLICE_OFFICER], held)
    call_command("process", "--once")
    held.refresh_from_db()
    assert (held.state, held.attempts) == (Quarantine.State.HELD, 2)
    assert strangers() == {"C-ONE", "C-THREE"}
    # the cause fixed: the replay raises the alert the passage should have raised
    monkeypatch.setattr(Evaluator, "stranger", real)
    actions.replay(world.users[Role.POLICE_OFFICER], held)
    call_command("process", "--once")
    held.refresh_from_db()
    assert held.state == Quarantine.State.REPLAYED
    assert strangers() == {"C-ONE", "C-BAD", "C-THREE"}


def test_a_failure_nobody_names_is_narrowed_down_to_its_passages(world, devices):
    """A hook failing inside the transaction without naming the event: the batch is
    halved until the failing passages stand alone; everything else commits once."""
    items = [passage(f"n-{i}", credential=f"C-{i}") for i in range(40)]
    items[5]["credential"] = items[31]["credential"] = "C-BAD"
    rows = send(devices, *items)
    calls = []

    def hook(facts):
        calls.append(len(facts))
        if any(f["credential"] == "C-BAD" for f in facts):
            raise RuntimeError("boom")

    result = Processor(batch=40, on_facts=hook).process_batch()
    assert (result.processed, result.set_aside) == (40, 2)
    held = dict(Quarantine.objects.values_list("passage_id", "message"))
    assert held == {rows[5].pk: "RuntimeError: boom", rows[31].pk: "RuntimeError: boom"}
    entered = set(Presence.objects.values_list("entry_passage_id", flat=True))
    assert entered == {r.pk for r in rows} - set(held)
    assert ProcessorCheckpoint.last_passage("presence") == rows[-1].pk
    assert sum(f["kind"] == "entry" for f in result.facts) == 38
    assert len(calls) < 40  # halves, not one transaction a passage


def test_a_database_outage_is_no_event_s_fault(world, devices):
    """Locked or away: raised for the caller to wait and try again; nothing set aside."""
    send(devices, passage("o-1", credential="C-1"))

    def hook(facts):
        raise OperationalError("database is locked")

    with pytest.raises(OperationalError):
        Processor(on_facts=hook).process_batch()
    assert not Quarantine.objects.exists()
    assert ProcessorCheckpoint.last_passage("presence") == 0


def test_a_failing_alarm_is_set_aside_alone(world, devices, monkeypatch):
    real = Evaluator.alarm

    def alarm(self, fact, zone):
        if fact["alarm_kind"] == "tamper":
            raise KeyError("tamper")
        return real(self, fact, zone)

    monkeypatch.setattr(Evaluator, "alarm", alarm)
    alert = world.own.alert  # the device's open intrusion alert: the new alarm repeats it
    repeats = alert.repeat_count
    answer = via_ninja(
        "/ingest/alarms",
        [
            {"event_id": "a-1", "event_time": passage("x")["event_time"], "kind": "tamper"},
            {"event_id": "a-2", "event_time": passage("x")["event_time"], "kind": "intrusion"},
        ],
        token=devices.own.token,
    )
    assert answer.status == 200
    result = Processor(on_facts=Evaluator(refresh_seconds=0)).process_batch()
    assert (result.alarms, result.set_aside) == (2, 1)
    (held,) = Quarantine.objects.all()
    assert held.alarm.device_event_id == "a-1" and held.passage_id is None
    alert.refresh_from_db()
    assert alert.repeat_count == repeats + 1


# --- who sees and acts on them ------------------------------------------------------------


def client(world, role):
    c = Client(raise_request_exception=False)
    c.force_login(world.users[role])
    return c


def test_only_the_police_see_and_replay_set_aside_events(world):
    own, neighbour, foreign = (
        world.own.quarantine,
        world.neighbour.quarantine,
        world.foreign.quarantine,
    )
    for role in (Role.POLICE_ADMIN, Role.POLICE_OFFICER):
        c = client(world, role)
        listed = c.get("/api/v1/events/quarantine")
        assert listed.status_code == 200
        assert {r["id"] for r in listed.json()["items"]} == {own.pk, neighbour.pk}
        page = c.get("/events/quarantine/")
        assert page.status_code == 200
        assert f'id="q{own.pk}"' in page.text and f'id="q{foreign.pk}"' not in page.text
        assert "/events/quarantine/" in c.get("/events/devices/").text  # in the menu
        # another station's: as if it did not exist
        assert c.post(f"/api/v1/events/quarantine/{foreign.pk}/replay").status_code == 404
    # enterprise users never, not even for their own zone's passage
    for role in (Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_SECURITY, Role.INFORMANT,
                 Role.EMPLOYEE, Role.PARTNER):  # fmt: skip
        c = client(world, role)
        assert c.get("/api/v1/events/quarantine").status_code == 403
        assert c.get("/events/quarantine/").status_code == 403
        assert "/events/quarantine/" not in c.get("/events/devices/").text
        for step in ("replay", "dismiss"):
            answer = c.post(f"/api/v1/events/quarantine/{own.pk}/{step}")
            assert answer.status_code in (403, 404)
        assert c.post(f"/events/quarantine/{own.pk}/", {"step": "replay"}).status_code in (
            403,
            404,
        )
    own.refresh_from_db()
    assert own.state == Quarantine.State.HELD
    assert not AuditEntry.objects.filter(object_type="events.quarantine").exists()


def test_replay_and_dismiss_are_steps_of_the_held(world):
    own, neighbour = world.own.quarantine, world.neighbour.quarantine
    c = client(world, Role.POLICE_OFFICER)
    answer = c.post(f"/api/v1/events/quarantine/{own.pk}/replay")
    assert answer.status_code == 200 and answer.json()["state"] == "queued"
    again = c.post(f"/api/v1/events/quarantine/{own.pk}/dismiss")
    assert again.status_code == 409 and again.json()["detail"]
    own.refresh_from_db()
    assert own.state == Quarantine.State.QUEUED
    page = c.post(f"/events/quarantine/{neighbour.pk}/", {"step": "dismiss", "back": "x&y"})
    assert page.status_code == 303 and page["Location"] == "/events/quarantine/?state=held"
    neighbour.refresh_from_db()
    assert neighbour.state == Quarantine.State.DISMISSED
    audit = AuditEntry.objects.filter(object_type="events.quarantine").order_by("pk")
    assert [(a.object_id, a.after["transition"]) for a in audit] == [
        (str(own.pk), "replay"),
        (str(neighbour.pk), "dismiss"),
    ]
    assert (
        client(world, Role.POLICE_ADMIN)
        .post(f"/api/v1/events/quarantine/{neighbour.pk}/replay")
        .status_code
        == 409
    )


def test_a_failing_time_based_check_does_not_end_the_command(world, devices, monkeypatch, capsys):
    def broken(self, now, processor):
        raise TypeError("an unexpected value in an open stay")

    monkeypatch.setattr(Evaluator, "check_overstay", broken)
    (only,) = send(devices, passage("c-1", credential="C-ONE"))
    call_command("process", "--once")
    captured = capsys.readouterr()
    assert "the time-based checks failed" in captured.err and "TypeError" in captured.err
    assert "stopped cleanly" in captured.out
    assert ProcessorCheckpoint.last_passage("presence") == only.pk
    assert strangers() == {"C-ONE"}
