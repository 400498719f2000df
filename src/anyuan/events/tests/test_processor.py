"""The event processor: presences, occupancy, the muster list, facts, and restarts."""

import datetime as dt
import itertools
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection

from anyuan.events.models import DeviceAlarm, Passage, Presence, ProcessorCheckpoint
from anyuan.events.processor import Processor
from anyuan.events.queries import muster, muster_rows, occupancy
from anyuan.registry.models import Device, Person, Vehicle, Zone

T0 = dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.UTC)
_seq = itertools.count(1)


class Crash(BaseException):
    """The process dying mid-batch (killed, out of power): nothing of the batch commits
    and nothing is set aside — an ``Exception`` would be an event the processor cannot
    place, set aside in the quarantine (``test_quarantine.py``)."""


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def park(world):
    """A zone tree in the home park: area ← transit gate; building ← workshop, room."""
    # the world's sample passages and alarms are not part of these tests
    Passage.objects.all().delete()
    DeviceAlarm.objects.all().delete()
    home, own = world.home, world.own
    z = SimpleNamespace()
    z.area = Zone.objects.create(park=home.park, name="园区", ring="park", kind="area")
    z.gate = Zone.objects.create(
        park=home.park, parent=z.area, name="北门", ring="park", kind="gate", is_transit=True
    )
    z.building = Zone.objects.create(
        park=home.park,
        parent=z.area,
        name="1号楼",
        ring="production",
        kind="building",
        enterprise=own.enterprise,
    )
    z.workshop = Zone.objects.create(
        park=home.park,
        parent=z.building,
        name="一车间",
        ring="production",
        kind="workshop",
        enterprise=own.enterprise,
    )
    z.room = Zone.objects.create(
        park=home.park,
        parent=z.building,
        name="办公室",
        ring="production",
        kind="office",
        enterprise=own.enterprise,
    )
    devices = {}
    for name in ("gate", "building", "workshop", "room"):
        devices[name] = Device.objects.create(
            zone=getattr(z, name), name=name, kind="gate", serial=f"T-{name}", direction="both"
        )
    z.devices = devices
    z.alice = Person.objects.create(
        station=home.station,
        enterprise=own.enterprise,
        name="Alice",
        face_id="F-ALICE",
        card_number="C-ALICE",
        employee_number="E-7",
    )
    # the same employee number in the neighbour enterprise: matched by the zone's enterprise
    z.bob = Person.objects.create(
        station=home.station,
        enterprise=world.neighbour.enterprise,
        name="Bob",
        employee_number="E-7",
        card_number="C-BOB",
    )
    z.car = Vehicle.objects.create(
        station=home.station, plate="浙B7T777", enterprise=own.enterprise
    )
    return z


def passage(park, device: str, minutes: float, direction: str, credential: str, method="card"):
    device = park.devices[device]
    n = next(_seq)
    return Passage.objects.create(
        device=device,
        zone=device.zone,
        device_event_id=str(n),
        event_time=at(minutes),
        received_time=at(minutes),
        direction=direction,
        method=method,
        credential=credential,
    )


def rows():
    """Every presence as comparable tuples."""
    return sorted(
        Presence.objects.values_list(
            "subject_kind", "person_id", "vehicle_id", "credential", "zone_id",
            "entered_at", "left_at", "entry_passage_id", "exit_passage_id", "exit_first",
        ),
        key=repr,
    )  # fmt: skip


def kinds(facts):
    return [f["kind"] for f in facts]


def test_entry_opens_exit_closes(park):
    p_in = passage(park, "workshop", 0, "in", "C-ALICE")
    p_out = passage(park, "workshop", 60, "out", "C-ALICE")
    proc = Processor(refresh_seconds=0)
    first = proc.process_batch()
    assert first.processed == 2 and first.last_passage_id == p_out.pk
    assert kinds(first.facts) == ["entry", "exit"]
    (row,) = Presence.objects.all()
    assert (row.person_id, row.zone_id, row.entered_at, row.left_at) == (
        park.alice.pk,
        park.workshop.pk,
        at(0),
        at(60),
    )
    assert (row.entry_passage_id, row.exit_passage_id) == (p_in.pk, p_out.pk)
    assert ProcessorCheckpoint.objects.get(name="presence").last_passage_id == p_out.pk
    assert occupancy() == {}


def test_presence_per_zone_and_transit_gate_counts_for_the_area(park):
    passage(park, "gate", 0, "in", "F-ALICE", method="face")
    passage(park, "building", 1, "in", "C-ALICE")
    passage(park, "workshop", 2, "in", "C-ALICE")
    Processor().run_once()
    open_zones = set(
        Presence.objects.filter(left_at__isnull=True).values_list("zone_id", flat=True)
    )
    # the gate is transit: the entry counts for the area it leads into; zones nest
    assert open_zones == {park.area.pk, park.building.pk, park.workshop.pk}
    assert not Presence.objects.filter(zone=park.gate).exists()
    passage(park, "gate", 30, "out", "F-ALICE", method="face")
    Processor().run_once()
    assert set(occupancy()) == {park.building.pk, park.workshop.pk}


def test_matching_by_every_method(park):
    passage(park, "room", 0, "in", "F-ALICE", method="face")
    passage(park, "building", 0, "in", "C-BOB", method="card")
    passage(park, "workshop", 0, "in", "E-7", method="employee_number")
    passage(park, "gate", 0, "in", "浙B7T777", method="plate")
    proc = Processor()
    proc.run_once()
    got = dict(Presence.objects.values_list("zone_id", "subject_kind"))
    assert got == {
        park.room.pk: "person",
        park.building.pk: "person",
        park.workshop.pk: "person",
        park.area.pk: "vehicle",
    }
    # the employee number is Alice's in her enterprise's zone, not Bob's
    assert Presence.objects.get(zone=park.workshop).person_id == park.alice.pk
    assert Presence.objects.get(zone=park.building).person_id == park.bob.pk
    assert Presence.objects.get(zone=park.area).vehicle_id == park.car.pk


def test_employee_number_in_a_shared_zone_only_when_unique_in_the_station(park):
    passage(park, "gate", 0, "in", "E-7", method="employee_number")  # Alice and Bob: ambiguous
    proc = Processor(refresh_seconds=0)
    proc.run_once()
    Person.objects.filter(pk=park.bob.pk).update(employee_number="E-8", updated=at(9999))
    passage(park, "gate", 1, "in", "E-8", method="employee_number")
    proc.run_once()
    assert sorted(Presence.objects.values_list("subject_kind", "person_id")) == [
        ("person", park.bob.pk),
        ("unknown", None),
    ]


def test_credentials_of_another_station_do_not_match(park, world):
    Person.objects.create(
        station=world.foreign_station.station, name="F", card_number="C-FOREIGN-ONLY"
    )
    passage(park, "workshop", 0, "in", "C-FOREIGN-ONLY")
    facts = Processor().process_batch().facts
    assert kinds(facts) == ["stranger", "entry"]
    assert Presence.objects.get().subject_kind == "unknown"


def test_stranger(park):
    passage(park, "workshop", 0, "in", "C-NOBODY")
    passage(park, "gate", 1, "in", "", method="face")  # an unrecognised face
    passage(park, "workshop", 5, "out", "C-NOBODY")
    facts = Processor().process_batch().facts
    assert kinds(facts) == ["stranger", "entry", "stranger", "stranger", "exit"]
    assert facts[0]["subject"] == "unknown" and facts[0]["credential"] == "C-NOBODY"
    (row,) = Presence.objects.all()
    assert (row.subject_kind, row.credential, row.person_id) == ("unknown", "C-NOBODY", None)
    assert row.left_at == at(5)


def test_double_entry_and_exit_without_entry(park):
    first = passage(park, "workshop", 0, "in", "C-ALICE")
    passage(park, "workshop", 5, "in", "C-ALICE")
    passage(park, "workshop", 10, "out", "C-ALICE")
    passage(park, "workshop", 20, "out", "C-ALICE")
    facts = Processor().process_batch().facts
    assert kinds(facts) == ["entry", "double_entry", "exit", "exit_without_entry"]
    stays = list(Presence.objects.order_by("pk").values_list("entered_at", "left_at", "exit_first"))
    assert stays == [(at(0), at(10), False), (None, at(20), True)]
    assert Presence.objects.order_by("pk").first().entry_passage_id == first.pk


def test_out_of_order_events(park):
    # the exit is processed before its entry (the entry was held back)
    passage(park, "workshop", 10, "out", "C-ALICE")
    passage(park, "workshop", 0, "in", "C-ALICE")
    # then a normal stay, and a held-back exit that predates it
    passage(park, "room", 30, "in", "C-ALICE")
    passage(park, "room", 20, "out", "C-ALICE")
    passage(park, "room", 15, "in", "C-ALICE")
    facts = Processor().process_batch().facts
    assert kinds(facts) == [
        "exit_without_entry",
        "late_entry",
        "entry",
        "exit_without_entry",
        "late_entry",
    ]
    got = sorted(Presence.objects.values_list("zone_id", "entered_at", "left_at"), key=repr)
    assert got == sorted(
        [
            (park.workshop.pk, at(0), at(10)),
            (park.room.pk, at(15), at(20)),
            (park.room.pk, at(30), None),
        ],
        key=repr,
    )
    assert occupancy() == {park.room.pk: 1}


def _script(park):
    """A mixed stream: entries, exits, strangers, double entries, out-of-order events."""
    people = []
    for i in range(12):
        people.append(
            Person.objects.create(
                station=park.alice.station, name=f"P{i}", card_number=f"C-{i}", face_id=f"F-{i}"
            )
        )
    for minute in range(40):
        for i in range(12):
            if (minute + i) % 5 == 0:
                passage(park, ["workshop", "room", "gate"][i % 3], minute, "in", f"C-{i}")
            elif (minute + i) % 5 == 3:
                passage(park, ["workshop", "room", "gate"][i % 3], minute, "out", f"C-{i}")
            elif (minute + i) % 11 == 0:
                passage(park, "building", minute - 3, "in", f"F-{i}", method="face")
        if minute % 7 == 0:
            passage(park, "gate", minute, "in", f"X-{minute % 3}")
            passage(park, "gate", minute + 1, "out", f"X-{minute % 3}")


def test_restart_after_a_crash_continues_exactly(park):
    _script(park)
    total = Passage.objects.count()
    assert total > 100

    Processor(name="single", batch=10_000).run_once()
    single = rows()
    Presence.objects.all().delete()

    seen = []
    proc = Processor(name="crashy", batch=37, on_facts=lambda facts: seen.extend(facts))
    for _ in range(2):
        proc.process_batch()
    # a crash mid-way: memory is lost; a batch whose transaction failed is not committed
    proc = Processor(name="crashy", batch=37, on_facts=lambda facts: seen.extend(facts))

    def boom(facts):
        raise Crash("crash inside the batch")

    proc.on_facts = boom
    with pytest.raises(Crash):
        proc.process_batch()
    proc = Processor(name="crashy", batch=37, on_facts=lambda facts: seen.extend(facts))
    proc.process_batch()
    del proc
    Processor(name="crashy", batch=37, on_facts=lambda facts: seen.extend(facts)).run_once()

    assert rows() == single
    ids = [f["passage_id"] for f in seen if f["kind"] != "stranger"]
    assert len(ids) == len(set(ids)) == total  # every passage once, none twice
    assert ProcessorCheckpoint.objects.get(name="crashy").last_passage_id == max(ids)


def test_registry_change_is_picked_up(park):
    passage(park, "workshop", 0, "in", "C-NEW")
    proc = Processor(refresh_seconds=0)
    assert kinds(proc.process_batch().facts) == ["stranger", "entry"]
    Person.objects.create(station=park.alice.station, name="New", card_number="C-NEW")
    passage(park, "room", 1, "in", "C-NEW")
    assert kinds(proc.process_batch().facts) == ["entry"]


def test_occupancy_and_muster_list(park, world):
    passage(park, "workshop", 0, "in", "C-ALICE")
    passage(park, "room", 0, "in", "C-BOB")
    passage(park, "building", 0, "in", "浙B7T777", method="plate")
    passage(park, "gate", 0, "in", "C-ALICE")
    passage(park, "room", 5, "in", "C-NOBODY")
    passage(park, "room", 9, "out", "C-NOBODY")
    proc = Processor()
    proc.run_once()
    expected = {park.workshop.pk: 1, park.room.pk: 1, park.building.pk: 1, park.area.pk: 1}
    assert occupancy() == expected
    assert {z: n for z, n in proc.occupancy.items() if n} == expected
    assert muster(park.building).count() == 3
    assert muster(park.area).count() == 4
    assert muster(park.room).count() == 1
    names = [(r[0], r[2] or r[3]) for r in muster_rows(park.building)]
    assert sorted(names) == sorted([("1号楼", "浙B7T777"), ("一车间", "Alice"), ("办公室", "Bob")])
    # scoped: the enterprise that owns the building sees its muster list; a foreign police
    # station sees nothing
    from anyuan.core.roles import Role

    own = Presence.objects.restrict(world.users[Role.ENTERPRISE_ADMIN])
    assert muster(park.building, own).count() == 3
    foreign = Presence.objects.restrict(world.foreign_users[Role.POLICE_ADMIN])
    assert muster(park.area, foreign).count() == 0


def test_command_once_and_muster_export(park, capsys):
    passage(park, "workshop", 0, "in", "C-ALICE")
    passage(park, "workshop", 3, "out", "C-ALICE")
    passage(park, "room", 5, "in", "C-ALICE")
    call_command("process", "--once", "--batch", "2")
    out = capsys.readouterr().out
    assert "processed 3" in out
    assert Presence.objects.count() == 2
    call_command("process", "--muster", str(park.building.pk))
    csv = capsys.readouterr().out.splitlines()
    assert csv[0].startswith("zone,subject,name")
    assert len(csv) == 2 and "Alice" in csv[1]


def test_occupancy_changes_are_published_live_with_the_batch(park):
    from anyuan.live.models import LiveMessage

    passage(park, "workshop", 0, "in", "C-ALICE")
    passage(park, "gate", 1, "in", "C-BOB")
    Processor().run_once()
    messages = {(m.station_id, m.enterprise_id): m.payload for m in LiveMessage.objects.all()}
    workshop, area = str(park.workshop.pk), str(park.area.pk)
    assert messages[(park.area.park.station_id, park.workshop.enterprise_id)]["zones"] == {
        workshop: 1
    }
    assert messages[(park.area.park.station_id, None)]["zones"] == {area: 1}  # police only
    assert all(m.topic == "occupancy" for m in LiveMessage.objects.all())


class TwoStepHook:
    """A rules engine with the two steps: ``decide`` before the batch's transaction,
    ``write`` inside it; records where each ran."""

    def __init__(self, fail_write=False):
        self.fail_write = fail_write
        self.decided, self.written, self.discarded = [], [], 0
        self.where = []
        self._held = None

    def decide(self, facts, occupancy=None):
        # transactions open around this call (the test's own is one)
        self.where.append(("decide", len(connection.atomic_blocks)))
        self.occupancy = dict(occupancy)
        self._held = facts

    def write(self):
        self.where.append(("write", len(connection.atomic_blocks)))
        if self.fail_write:
            raise Crash("crash while writing")
        self.written.extend(self._held)
        self._held = None

    def discard(self):
        self.discarded += 1
        self._held = None


def test_rules_decide_before_the_transaction_and_write_inside_it(park):
    """The write lock (SQLite: one for the whole database) is held only for writing."""
    passage(park, "workshop", 1, "in", "C-ALICE")
    passage(park, "room", 2, "in", "C-ALICE")
    hook = TwoStepHook()
    around = len(connection.atomic_blocks)  # the test's transaction
    Processor(on_facts=hook).run_once()
    assert hook.where == [("decide", around), ("write", around + 1)]
    assert kinds(hook.written) == ["entry", "entry"]
    # the occupancy handed over is the processor's, after the batch
    assert hook.occupancy == {park.workshop.pk: 1, park.room.pk: 1} == occupancy()


def test_a_failed_write_discards_the_decisions_and_repeats_nothing(park):
    _script(park)
    total = Passage.objects.count()
    Processor(name="once", batch=10_000).run_once()
    expected = rows()
    Presence.objects.all().delete()

    hook = TwoStepHook()
    proc = Processor(name="twostep", batch=41, on_facts=hook)
    proc.process_batch()
    hook.fail_write = True
    with pytest.raises(Crash):
        proc.process_batch()  # nothing of this batch is committed
    assert hook.discarded == 1
    hook.fail_write = False
    proc.run_once()  # the same processor goes on from its checkpoint

    assert rows() == expected
    ids = [f["passage_id"] for f in hook.written if f["kind"] != "stranger"]
    assert len(ids) == len(set(ids)) == total


def test_command_waits_out_a_locked_database_and_goes_on(park, capsys, monkeypatch):
    """SQLite's write lock held past busy_timeout (a flood of uploads) rolls the batch
    back; the processor says so, waits and processes it again — nothing lost or doubled."""
    from django.db import OperationalError

    from anyuan.events.management.commands import process as command
    from anyuan.events.processor import Processor

    passage(park, "workshop", 0, "in", "C-ALICE")
    passage(park, "room", 5, "in", "C-ALICE")
    real, failures = Processor.process_batch, []

    def locked_once(self):
        if not failures:
            failures.append(1)
            raise OperationalError("database is locked")
        return real(self)

    monkeypatch.setattr(Processor, "process_batch", locked_once)
    monkeypatch.setattr(command.time, "sleep", lambda s: None)
    call_command("process", "--once")
    captured = capsys.readouterr()
    assert "database busy (database is locked)" in captured.err
    assert "processed 2" in captured.out
    assert Presence.objects.count() == 2
