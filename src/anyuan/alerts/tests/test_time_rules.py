"""Time-based rules and device alarms: vehicle overstay (fires while inside, clears when it
leaves), silent devices (fire, clear when heard again), exits without an entry held for
late entries, and device alarms linked to their zone and the cameras nearby."""

import datetime as dt

import pytest

from anyuan.alerts import actions
from anyuan.alerts.evaluator import Evaluator
from anyuan.alerts.models import Alert, Rule
from anyuan.alerts.tests.test_rules import DAY, alerts, card, passage
from anyuan.alerts.tests.test_rules import site as site  # the fixture, re-exported
from anyuan.core.system import SYSTEM
from anyuan.events.models import DeviceAlarm, DeviceLink, ProcessorCheckpoint
from anyuan.events.processor import Processor
from anyuan.registry import models as m

T = Alert.Type
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


@pytest.fixture
def cars(site):
    site.visitor = m.Vehicle.objects.create(
        station=site.station,
        plate="浙B12345",
        registered=False,
        enterprise=site.enterprise,
        valid_until=DAY + 2 * H,
    )
    site.staff_car = m.Vehicle.objects.create(
        station=site.station, plate="浙B54321", enterprise=site.enterprise
    )
    return site


def processor():
    return Processor(on_facts=Evaluator(refresh_seconds=0, exit_hold_s=1800), refresh_seconds=0)


def drive(site, vehicle_or_plate, direction, when):
    plate = getattr(vehicle_or_plate, "plate", vehicle_or_plate)
    return passage(site, site.gate, when, direction, plate, method="plate")


# --- vehicle overstay --------------------------------------------------------------------


def test_visitor_vehicle_overstay_fires_while_inside_and_clears_when_it_leaves(cars):
    drive(cars, cars.visitor, "in", DAY)
    drive(cars, cars.staff_car, "in", DAY)  # registered, no end: may stay
    proc = processor()
    proc.run_once()
    proc.check(DAY + 2 * H - MIN)  # still allowed
    assert alerts(T.VEHICLE_OVERSTAY) == []
    proc.check(DAY + 2 * H + MIN)
    (alert,) = alerts(T.VEHICLE_OVERSTAY)
    assert alert.vehicle == cars.visitor and alert.state == "new"
    assert alert.enterprise == cars.enterprise  # the host firm sees it, and the police
    assert alert.first_seen == DAY + 2 * H  # overstaying since the end of the appointment
    proc.check(DAY + 3 * H)  # still inside: the same alert, not a second one
    assert len(alerts(T.VEHICLE_OVERSTAY)) == 1
    assert alerts(T.VEHICLE_OVERSTAY)[0].repeat_count == 1

    drive(cars, cars.visitor, "out", DAY + 3 * H + 5 * MIN)
    proc.run_once()
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.cleared_at == DAY + 3 * H + 5 * MIN
    assert "left" in alert.notes.get().text.lower() or alert.notes.count() == 1


def test_an_overstay_closed_by_a_person_is_not_raised_again_for_the_same_stay(cars):
    drive(cars, cars.visitor, "in", DAY)
    proc = processor()
    proc.run_once()
    proc.check(DAY + 3 * H)
    (alert,) = alerts(T.VEHICLE_OVERSTAY)
    actions.resolve(SYSTEM, alert, note="asked the driver to leave")
    proc.check(DAY + 4 * H)
    assert len(alerts(T.VEHICLE_OVERSTAY)) == 1
    # the next visit is a new stay: it may overstay again
    drive(cars, cars.visitor, "out", DAY + 4 * H)
    drive(cars, cars.visitor, "in", DAY + 5 * H)
    proc.run_once()
    proc.check(DAY + 6 * H)
    assert len(alerts(T.VEHICLE_OVERSTAY)) == 2


def test_an_extended_appointment_clears_the_overstay(cars):
    drive(cars, cars.visitor, "in", DAY)
    proc = processor()
    proc.run_once()
    proc.check(DAY + 3 * H)
    (alert,) = alerts(T.VEHICLE_OVERSTAY)
    cars.visitor.valid_until = DAY + 8 * H
    cars.visitor.save()
    proc.check(DAY + 3 * H + MIN)
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.cleared_at is not None


def test_an_outside_vehicle_may_stay_the_rule_minutes(cars):
    drive(cars, "浙C99999", "in", DAY)  # in no registry: a stranger, and an outside vehicle
    Rule.objects.create(station=cars.station, type=T.VEHICLE_OVERSTAY, thresholds={"minutes": 90})
    proc = processor()
    proc.run_once()
    proc.check(DAY + 89 * MIN)
    assert alerts(T.VEHICLE_OVERSTAY) == []
    proc.check(DAY + 91 * MIN)
    (alert,) = alerts(T.VEHICLE_OVERSTAY)
    assert alert.credential == "浙C99999" and alert.vehicle is None
    drive(cars, "浙C99999", "out", DAY + 2 * H)
    proc.run_once()
    alert.refresh_from_db()
    assert alert.state == "resolved"


def test_overstay_disabled_by_a_rule(cars):
    Rule.objects.create(station=cars.station, type=T.VEHICLE_OVERSTAY, enabled=False)
    drive(cars, cars.visitor, "in", DAY)
    proc = processor()
    proc.run_once()
    proc.check(DAY + 5 * H)
    assert alerts(T.VEHICLE_OVERSTAY) == []


# --- silent devices ----------------------------------------------------------------------


def heard(device, when):
    DeviceLink.objects.update_or_create(
        device=device, defaults={"last_seen": when, "last_heartbeat": when}
    )


def test_a_silent_device_fires_and_clears_when_heard_again(site):
    lane = site.devices[site.gate.pk]  # heartbeat every 60 s; silent after 3 missed
    other = site.devices[site.workshop.pk]
    heard(lane, DAY)
    heard(other, DAY)
    proc = processor()
    proc.check(DAY)  # the first check: from now on devices are judged
    heard(other, DAY + 4 * MIN)
    proc.check(DAY + 2 * MIN)
    assert alerts(T.DEVICE_SILENT) == []
    proc.check(DAY + 4 * MIN)
    (alert,) = alerts(T.DEVICE_SILENT)
    assert alert.device == lane and alert.zone == site.gate
    heard(other, DAY + 10 * MIN)
    proc.check(DAY + 10 * MIN)  # still silent: still one alert
    assert len(alerts(T.DEVICE_SILENT)) == 1
    heard(lane, DAY + 11 * MIN)
    proc.check(DAY + 11 * MIN)
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.cleared_at == DAY + 11 * MIN
    # silent again later: a new alert
    heard(other, DAY + 20 * MIN)
    proc.check(DAY + 20 * MIN)
    assert [a.state for a in alerts(T.DEVICE_SILENT)] == ["resolved", "new"]


def test_after_a_restart_devices_get_time_to_report(site):
    lane = site.devices[site.gate.pk]
    heard(lane, DAY - 5 * H)  # last heard long before the platform came back
    proc = processor()
    proc.check(DAY)
    proc.check(DAY + 2 * MIN)
    assert alerts(T.DEVICE_SILENT) == []
    proc.check(DAY + 3 * MIN)  # three intervals since the platform came back: silent
    assert len(alerts(T.DEVICE_SILENT)) == 1


def test_silence_threshold_from_a_rule(site):
    lane = site.devices[site.gate.pk]
    Rule.objects.create(
        station=site.station, zone=site.gate, type=T.DEVICE_SILENT, thresholds={"heartbeats": 10}
    )
    heard(lane, DAY)
    proc = processor()
    proc.check(DAY)
    proc.check(DAY + 9 * MIN)
    assert alerts(T.DEVICE_SILENT) == []
    proc.check(DAY + 11 * MIN)
    assert len(alerts(T.DEVICE_SILENT)) == 1


# --- exits without entry, held for late entries ------------------------------------------


def test_an_exit_whose_entry_arrives_late_is_no_passback(site):
    # alice was in the dormitory before: her stays there are known
    passage(site, site.dorm, DAY, "in", card(site.alice))
    passage(site, site.dorm, DAY, "out", card(site.alice), minutes=5)
    # she enters again at +10, but the door holds that event back until after her exit
    passage(site, site.dorm, DAY, "out", card(site.alice), minutes=20)
    proc = processor()
    proc.run_once()
    proc.check(DAY + 30 * MIN)  # not yet due (held 30 minutes)
    passage(site, site.dorm, DAY, "in", card(site.alice), minutes=10)  # the late entry
    proc.run_once()
    proc.check(DAY + 2 * H)
    assert alerts(T.ANTIPASSBACK) == []


def test_an_exit_without_entry_is_raised_once_after_the_hold(site):
    passage(site, site.dorm, DAY, "in", card(site.alice))
    passage(site, site.dorm, DAY, "out", card(site.alice), minutes=5)
    passage(site, site.dorm, DAY, "out", card(site.alice), minutes=20)
    proc = processor()
    proc.run_once()
    proc.check(DAY + 49 * MIN)
    assert alerts(T.ANTIPASSBACK) == []
    proc.check(DAY + 51 * MIN)
    proc.check(DAY + 2 * H)
    (alert,) = alerts(T.ANTIPASSBACK)
    assert alert.repeat_count == 1 and alert.detail["fact"] == "exit_without_entry"
    # a restarted processor continues from the saved check time: nothing twice
    assert ProcessorCheckpoint.objects.get().checked_until == DAY + 2 * H
    again = processor()
    again.check(DAY + 3 * H)
    assert alerts(T.ANTIPASSBACK)[0].repeat_count == 1


# --- entry without exit --------------------------------------------------------------------


def test_an_entry_without_exit_is_raised_once_when_the_person_is_overdue(site):
    dave = m.Person.objects.create(station=site.station, name="dave", card_number="C-dave")
    resident = m.Person.objects.create(
        station=site.station, name="rita", card_number="C-rita", home_zone=site.dorm
    )
    passage(site, site.gate, DAY, "in", card(dave))  # into the park, never seen again
    passage(site, site.gate, DAY, "in", card(site.alice))
    passage(site, site.workshop, DAY, "in", card(site.alice), minutes=5)  # at work
    passage(site, site.workshop, DAY, "out", card(site.alice), minutes=600)  # then nowhere
    passage(site, site.workshop, DAY, "in", card(site.bob))  # at work, never seen again
    passage(site, site.gate, DAY, "in", card(resident))
    passage(site, site.dorm, DAY, "in", card(resident), minutes=10)  # at home: never
    proc = processor()
    proc.run_once()
    proc.check(DAY + 3 * H - MIN)
    assert alerts(T.ANTIPASSBACK) == []
    proc.check(DAY + 3 * H + MIN)  # three hours in the open park, unseen
    (alert,) = alerts(T.ANTIPASSBACK)
    assert alert.person == dave and alert.zone == site.area
    assert alert.detail["fact"] == "entry_without_exit" and alert.first_seen == DAY + 3 * H
    assert alert.detail["passage"] is not None
    proc.check(DAY + 10 * H)
    assert [(a.person, a.repeat_count) for a in alerts(T.ANTIPASSBACK)] == [(dave, 1)]
    processor().check(DAY + 11 * H)  # after a restart: not again
    assert [(a.person, a.repeat_count) for a in alerts(T.ANTIPASSBACK)] == [(dave, 1)]
    proc.check(DAY + 13 * H + MIN)  # alice: three hours after she left work
    proc.check(DAY + 16 * H + MIN)  # bob: sixteen hours in the workshop, unseen
    proc.check(DAY + 30 * H)
    by_person = {a.person: a for a in alerts(T.ANTIPASSBACK)}
    assert set(by_person) == {dave, site.alice, site.bob}
    assert by_person[site.alice].first_seen == DAY + 13 * H
    assert by_person[site.bob].first_seen == DAY + 16 * H
    assert by_person[site.bob].zone == site.workshop


# --- device alarms -----------------------------------------------------------------------


def alarm(site, zone, kind, state="pulse", when=DAY, n=[0]):  # noqa: B006 - a counter
    n[0] += 1
    return DeviceAlarm.objects.create(
        device=site.devices[zone.pk],
        zone=zone,
        device_event_id=f"A{n[0]}",
        kind=kind,
        state=state,
        event_time=when,
        received_time=when,
    )


def test_device_alarms_raise_alerts_linked_to_the_zone_and_cameras_nearby(site):
    camera = m.Device.objects.create(
        zone=site.workshop, name="车间摄像机", kind="camera", serial="CAM-1"
    )
    far = m.Device.objects.create(zone=site.dorm, name="宿舍摄像机", kind="camera", serial="CAM-2")
    alarm(site, site.lab, "object_missing")
    alarm(site, site.lab, "object_removed", when=DAY + MIN)  # the same device: a repeat
    alarm(site, site.area, "intrusion", state="start")
    alarm(site, site.area, "intrusion", state="stop", when=DAY + MIN)  # closes nothing
    alarm(site, site.dorm, "tamper")
    alarm(site, site.gate, "door_forced")
    proc = processor()
    proc.run_once()
    missing = alerts(T.OBJECT_MISSING)
    assert len(missing) == 1 and missing[0].repeat_count == 2
    assert missing[0].zone == site.lab and missing[0].device == site.devices[site.lab.pk]
    assert missing[0].enterprise == site.enterprise
    assert [c["id"] for c in missing[0].detail["cameras"]] == [camera.pk]  # the one above
    intrusion = {a.zone_id: a for a in alerts(T.INTRUSION)}
    assert set(intrusion) == {site.area.pk, site.gate.pk}
    assert intrusion[site.area.pk].repeat_count == 1 and intrusion[site.area.pk].state == "new"
    (tamper,) = alerts(T.TAMPER)
    assert [c["id"] for c in tamper.detail["cameras"]] == [far.pk]
    # processed once: a second run and a restart raise nothing more
    proc.run_once()
    processor().run_once()
    assert sum(a.repeat_count for a in alerts()) == 5
    assert ProcessorCheckpoint.objects.get().last_alarm_id == DeviceAlarm.objects.latest("pk").pk


def test_device_alarm_type_disabled_by_a_rule(site):
    Rule.objects.create(station=site.station, type=T.TAMPER, enabled=False)
    alarm(site, site.dorm, "tamper")
    processor().run_once()
    assert alerts() == []
