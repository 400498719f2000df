"""Alert rules on the processor's facts: each rule fires on its case and not on the normal
case, repeats bump the counter, rule rows override the defaults by place, and a restart
after a crash raises every alert once."""

import datetime as dt
import itertools
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from anyuan.alerts.evaluator import Evaluator
from anyuan.alerts.models import Alert, Rule
from anyuan.alerts.rules import DEFAULTS, RuleBook
from anyuan.core.testing import make_credit_code
from anyuan.events.models import Passage
from anyuan.events.processor import Processor
from anyuan.registry import models as m

LOCAL = ZoneInfo("Asia/Shanghai")
DAY = dt.datetime(2026, 11, 2, 10, 0, tzinfo=LOCAL)  # a Monday, 10:00
NIGHT = dt.datetime(2026, 11, 2, 23, 0, tzinfo=LOCAL)
_seq = itertools.count(1)
T = Alert.Type


@pytest.fixture
def site(db):
    """A station of its own: park area ← gate (transit), workshop (production, capacity 2)
    ← lab (core, needs hazchem) ← lab room; dormitory (living)."""
    s = SimpleNamespace()
    s.station = m.Station.objects.create(name="规则所", code="R")
    s.park = m.Park.objects.create(station=s.station, name="规则园区")
    s.enterprise = m.Enterprise.objects.create(
        station=s.station, park=s.park, name="规则公司", credit_code=make_credit_code(9901)
    )

    def zone(name, ring, parent=None, **extra):
        return m.Zone.objects.create(park=s.park, parent=parent, name=name, ring=ring, **extra)

    s.area = zone("园区", "park")
    s.gate = zone("北门", "park", s.area, kind="gate", is_transit=True)
    s.workshop = zone("车间", "production", s.area, enterprise=s.enterprise, capacity=2)
    s.lab = zone("实验室", "core", s.workshop, enterprise=s.enterprise)
    s.lab_room = zone("实验室一间", "core", s.lab, enterprise=s.enterprise)
    s.dorm = zone("宿舍", "living", s.area)
    s.hazchem, _ = m.QualificationType.objects.get_or_create(
        code="hazchem", defaults={"name": "危化品培训"}
    )
    s.lab.required_qualifications.add(s.hazchem)
    s.devices = {
        z.pk: m.Device.objects.create(zone=z, name=z.name, kind="gate", serial=f"R-{z.pk}")
        for z in (s.area, s.gate, s.workshop, s.lab, s.lab_room, s.dorm)
    }

    def person(name, **extra):
        return m.Person.objects.create(
            station=s.station, enterprise=s.enterprise, name=name, card_number=f"C-{name}", **extra
        )

    s.alice = person("alice")  # authorised on the workshop (and so the lab) in person
    s.bob = person("bob")  # authorised through an access group
    s.carol = person("carol")  # no authorisation
    m.Authorisation.objects.create(zone=s.workshop, person=s.alice)
    group = m.AccessGroup.objects.create(station=s.station, enterprise=s.enterprise, name="组")
    group.members.add(s.bob)
    m.Authorisation.objects.create(zone=s.workshop, group=group)
    m.Qualification.objects.create(person=s.alice, type=s.hazchem, valid_until=dt.date(2027, 1, 1))
    m.Qualification.objects.create(person=s.bob, type=s.hazchem, valid_until=dt.date(2026, 1, 1))
    return s


def passage(site, zone, when, direction="in", credential="", method="card", minutes=0):
    n = next(_seq)
    return Passage.objects.create(
        device=site.devices[zone.pk],
        zone=zone,
        device_event_id=f"R{n}",
        event_time=when + dt.timedelta(minutes=minutes),
        received_time=when + dt.timedelta(minutes=minutes),
        direction=direction,
        method=method,
        credential=credential,
    )


def card(person):
    return person.card_number


def run(check_at=None, **kwargs):
    """Process the log, then run the time-based rules as of ``check_at`` (two hours after
    DAY by default: exits without entry have waited out their hold time)."""
    processor = Processor(on_facts=Evaluator(refresh_seconds=0), **kwargs)
    total = processor.run_once()
    processor.check(check_at or DAY + dt.timedelta(hours=2))
    return total


def alerts(type=None):
    rows = Alert.objects.all()
    if type is not None:
        rows = rows.filter(type=type)
    return list(rows.order_by("pk"))


# --- the normal case -------------------------------------------------------------------


def test_authorised_daytime_entries_raise_nothing(site):
    passage(site, site.gate, DAY, "in", card(site.alice))
    passage(site, site.workshop, DAY, "in", card(site.alice), minutes=1)
    passage(site, site.lab, DAY, "in", card(site.alice), minutes=2)  # valid qualification
    passage(site, site.lab, DAY, "out", card(site.alice), minutes=3)
    passage(site, site.workshop, DAY, "in", card(site.bob), minutes=4)  # via the group
    passage(site, site.workshop, DAY, "out", card(site.bob), minutes=5)
    passage(site, site.area, NIGHT, "in", card(site.carol))  # park ring: no authorisation
    run()
    assert alerts() == []


# --- stranger --------------------------------------------------------------------------


def test_stranger_once_per_credential_repeats_bump(site):
    passage(site, site.gate, DAY, "in", "C-NOBODY")
    passage(site, site.gate, DAY, "out", "C-NOBODY", minutes=5)
    passage(site, site.gate, DAY, "in", "", method="face", minutes=6)
    passage(site, site.gate, DAY, "in", "", method="face", minutes=7)
    run()
    by_credential, unrecognised = alerts(T.STRANGER)
    assert by_credential.repeat_count == 2 and by_credential.credential == "C-NOBODY"
    assert by_credential.severity == "high" and by_credential.station == site.station
    assert by_credential.zone == site.area and by_credential.enterprise is None
    assert "北门" not in by_credential.title and "园区" in by_credential.title
    assert unrecognised.repeat_count == 2 and unrecognised.source_key.startswith("stranger:zone:")


# --- unauthorised zone -----------------------------------------------------------------


def test_unauthorised_zone(site):
    passage(site, site.workshop, DAY, "in", card(site.carol))
    passage(site, site.workshop, DAY, "out", card(site.carol), minutes=1)
    passage(site, site.workshop, DAY, "in", card(site.carol), minutes=2)
    passage(site, site.dorm, DAY, "in", card(site.alice))  # not authorised in the dormitory
    run()
    workshop, dorm = alerts(T.UNAUTHORISED_ZONE)
    assert (workshop.person, workshop.zone, workshop.repeat_count) == (site.carol, site.workshop, 2)
    assert workshop.enterprise == site.enterprise and workshop.severity == "high"
    assert (dorm.person, dorm.zone) == (site.alice, site.dorm)


def test_an_authorisation_inside_a_zone_lets_one_pass_through_it(site):
    """Allowed into the lab room, alice may cross the workshop and the lab to reach it;
    carol, allowed nowhere, may not. The living area around a resident's room likewise."""
    m.Authorisation.objects.filter(person=site.alice).update(zone=site.lab_room)
    frank = m.Person.objects.create(
        station=site.station, name="frank", card_number="C-frank", home_zone=site.dorm
    )
    room = m.Zone.objects.create(park=site.park, parent=site.dorm, name="101", ring="living")
    frank.home_zone = room
    frank.save()
    passage(site, site.workshop, DAY, "in", card(site.alice))
    passage(site, site.lab, DAY, "in", card(site.alice), minutes=1)
    passage(site, site.dorm, DAY, "in", "C-frank")
    passage(site, site.workshop, DAY, "in", card(site.carol))
    run()
    assert [(a.person.name, a.zone.name) for a in alerts(T.UNAUTHORISED_ZONE)] == [
        ("carol", "车间")
    ]


def test_authorisation_window_validity_and_home_zone(site):
    dave = m.Person.objects.create(station=site.station, name="dave", card_number="C-dave")
    m.Authorisation.objects.create(
        zone=site.area, person=dave, weekdays="12345",
        time_from=dt.time(8), time_until=dt.time(18),
    )  # fmt: skip
    erin = m.Person.objects.create(
        station=site.station, name="erin", card_number="C-erin", home_zone=site.dorm
    )
    m.Authorisation.objects.create(zone=site.workshop, person=erin, valid_until=dt.date(2026, 1, 1))
    passage(site, site.workshop, DAY, "in", "C-dave")  # ancestor, in the window: fine
    passage(site, site.dorm, DAY, "in", "C-erin")  # her home zone: fine
    passage(site, site.dorm, NIGHT, "in", "C-dave")  # outside the window
    passage(site, site.workshop, DAY + dt.timedelta(days=5), "in", "C-erin")  # expired
    run()
    assert sorted((a.person.name, a.zone.name) for a in alerts(T.UNAUTHORISED_ZONE)) == [
        ("dave", "宿舍"),
        ("erin", "车间"),
    ]


# --- watchlist -------------------------------------------------------------------------


def test_watchlist_hits(site):
    m.WatchlistEntry.objects.create(
        station=site.station, kind="person", person=site.alice, reason="r", level="alarm"
    )
    m.WatchlistEntry.objects.create(station=site.station, kind="person", face_id="F-X", reason="r")
    m.WatchlistEntry.objects.create(
        station=site.station, kind="plate", plate="浙A12345", reason="r"
    )
    m.WatchlistEntry.objects.create(
        station=site.station, kind="plate", plate="浙A99999", reason="r", active=False
    )
    passage(site, site.workshop, DAY, "in", card(site.alice))
    passage(site, site.workshop, DAY, "out", card(site.alice), minutes=1)
    passage(site, site.gate, DAY, "in", "F-X", method="face")
    passage(site, site.gate, DAY, "in", "浙A12345", method="plate", minutes=1)
    passage(site, site.gate, DAY, "in", "浙A99999", method="plate", minutes=2)
    passage(site, site.gate, DAY, "in", card(site.bob), minutes=3)
    run()
    person, face, plate = alerts(T.WATCHLIST_HIT)
    assert (person.person, person.repeat_count, person.severity) == (site.alice, 2, "critical")
    assert person.enterprise is None  # the police list: not shown to the enterprise
    assert person.zone == site.workshop and person.detail["level"] == "alarm"
    assert face.credential == "F-X" and plate.credential == "浙A12345"
    # a watchlisted face or plate in no registry is a watchlist hit, not also a stranger;
    # a plate whose entry is inactive is a stranger
    assert [a.credential for a in alerts(T.STRANGER)] == ["浙A99999"]


def test_an_enterprise_watchlist_counts_in_its_zones_and_its_park_gates_only(site):
    other = m.Enterprise.objects.create(
        station=site.station, park=site.park, name="别家", credit_code=make_credit_code(9902)
    )
    elsewhere = m.Park.objects.create(station=site.station, name="别的园区")
    far = m.Enterprise.objects.create(
        station=site.station, park=elsewhere, name="远处", credit_code=make_credit_code(9903)
    )
    own = m.WatchlistEntry.objects.create(
        station=site.station, enterprise=site.enterprise, kind="person", face_id="F-EX",
        reason="former employee",
    )  # fmt: skip
    m.WatchlistEntry.objects.create(
        station=site.station, enterprise=far, kind="person", face_id="F-EX", reason="r"
    )
    other_zone = m.Zone.objects.create(
        park=site.park, parent=site.area, name="别家车间", ring="production", enterprise=other
    )
    site.devices[other_zone.pk] = m.Device.objects.create(
        zone=other_zone, name="d", kind="gate", serial="R-other"
    )
    passage(site, site.gate, DAY, "in", "F-EX", method="face")  # its park's gate: yes
    passage(site, other_zone, DAY, "in", "F-EX", method="face", minutes=1)  # another firm: no
    run()
    (hit,) = alerts(T.WATCHLIST_HIT)
    assert hit.detail["watchlist_entry"] == own.pk and hit.enterprise == site.enterprise
    assert hit.zone == site.area and hit.repeat_count == 1
    # not on the list where the passage was: a stranger there
    assert [a.zone for a in alerts(T.STRANGER)] == [other_zone]


# --- after hours -----------------------------------------------------------------------


def test_after_hours_entry_into_production_and_core(site):
    """Without a schedule on the rule, the allowed time is the authorisation's hours."""
    frank = m.Person.objects.create(
        station=site.station, enterprise=site.enterprise, name="frank", card_number="C-frank"
    )
    m.Qualification.objects.create(person=frank, type=site.hazchem)
    m.Authorisation.objects.create(
        zone=site.workshop, person=frank, time_from=dt.time(8), time_until=dt.time(18)
    )
    passage(site, site.workshop, NIGHT, "in", card(frank))
    passage(site, site.lab, NIGHT, "in", card(frank), minutes=1)  # inside: the same hours
    passage(site, site.workshop, DAY, "in", card(frank), minutes=2)  # in his hours: no
    passage(site, site.workshop, NIGHT, "in", card(site.alice))  # at any hour: no
    passage(site, site.area, NIGHT, "in", card(site.bob))  # park ring: no
    run()
    workshop, lab = alerts(T.AFTER_HOURS)
    assert (workshop.zone, workshop.severity, workshop.person) == (site.workshop, "medium", frank)
    assert (lab.zone, lab.severity) == (site.lab, "high")
    assert alerts(T.UNAUTHORISED_ZONE) == []  # allowed there, only not at this time


# --- anti-passback ---------------------------------------------------------------------


def test_antipassback(site):
    passage(site, site.workshop, DAY, "in", card(site.alice))
    passage(site, site.workshop, DAY, "in", card(site.alice), minutes=1)
    # bob leaves the dormitory twice without entering between: the second exit is a passback
    passage(site, site.dorm, DAY, "out", card(site.bob), minutes=2)
    passage(site, site.dorm, DAY, "out", card(site.bob), minutes=3)
    # carol leaves the workshop, enters, leaves, and leaves again: a passback
    passage(site, site.workshop, DAY, "in", card(site.carol), minutes=4)
    passage(site, site.workshop, DAY, "out", card(site.carol), minutes=5)
    passage(site, site.workshop, DAY, "out", card(site.carol), minutes=6)
    run()
    double, bob, carol = alerts(T.ANTIPASSBACK)
    assert double.person == site.alice and double.severity == "low"
    assert bob.person == site.bob and bob.detail["fact"] == "exit_without_entry"
    assert bob.repeat_count == 1  # the first exit (inside since before) is not counted
    assert carol.person == site.carol and carol.detail["fact"] == "exit_without_entry"


def test_a_first_exit_of_someone_inside_since_before_raises_nothing(site):
    """When the system starts, everyone inside leaves without a recorded entry."""
    passage(site, site.dorm, DAY, "out", card(site.bob))
    passage(site, site.workshop, DAY, "out", card(site.alice), minutes=1)
    run()
    assert alerts(T.ANTIPASSBACK) == []


# --- qualification ---------------------------------------------------------------------


def test_qualification_missing_and_expired_checks_ancestors(site):
    passage(site, site.lab_room, DAY, "in", card(site.alice))  # valid: fine
    passage(site, site.lab_room, DAY, "in", card(site.carol), minutes=1)  # none
    passage(site, site.lab, DAY, "in", card(site.bob), minutes=2)  # expired
    passage(site, site.workshop, DAY, "in", card(site.carol), minutes=3)  # nothing required
    run()
    [missing] = alerts(T.QUALIFICATION_MISSING)
    [expired] = alerts(T.QUALIFICATION_EXPIRED)
    assert (missing.person, missing.zone) == (site.carol, site.lab_room)
    assert "危化品培训" in missing.title
    assert (expired.person, expired.zone) == (site.bob, site.lab)


# --- over capacity ---------------------------------------------------------------------


def test_over_capacity(site):
    dave = m.Person.objects.create(station=site.station, name="dave", card_number="C-dave")
    passage(site, site.workshop, DAY, "in", card(site.alice))
    passage(site, site.workshop, DAY, "in", card(site.bob), minutes=1)
    run()
    assert alerts(T.OVER_CAPACITY) == []  # two of two
    passage(site, site.workshop, DAY, "in", "C-dave", minutes=2)
    passage(site, site.workshop, DAY, "out", "C-dave", minutes=3)
    passage(site, site.workshop, DAY, "in", card(site.carol), minutes=4)
    passage(site, site.workshop, DAY, "in", "C-dave", minutes=5)
    run()
    [alert] = alerts(T.OVER_CAPACITY)
    assert alert.source_key == f"zone:{site.workshop.pk}" and alert.repeat_count == 3
    assert alert.detail["count"] == 3 and alert.detail["capacity"] == 2
    assert dave  # left once: three (carol), then four (dave again)


def test_capacity_factor_from_a_rule(site):
    Rule.objects.create(station=site.station, type=T.OVER_CAPACITY, thresholds={"factor": 2})
    for i, person in enumerate((site.alice, site.bob, site.carol)):
        passage(site, site.workshop, DAY, "in", card(person), minutes=i)
    run()
    assert alerts(T.OVER_CAPACITY) == []


# --- rules as data ---------------------------------------------------------------------


def test_rule_row_disables_a_type_at_a_zone_and_below_only(site):
    Rule.objects.create(
        station=site.station, type=T.UNAUTHORISED_ZONE, zone=site.workshop, enabled=False
    )
    passage(site, site.workshop, DAY, "in", card(site.carol))
    passage(site, site.lab, DAY, "in", card(site.carol), minutes=1)  # below the workshop
    passage(site, site.dorm, DAY, "in", card(site.carol), minutes=2)
    run()
    assert [a.zone for a in alerts(T.UNAUTHORISED_ZONE)] == [site.dorm]


def test_most_specific_rule_wins(site):
    Rule.objects.create(station=site.station, type=T.STRANGER, severity="low")
    Rule.objects.create(station=site.station, type=T.STRANGER, park=site.park, severity="medium")
    Rule.objects.create(
        station=site.station, type=T.STRANGER, enterprise=site.enterprise, severity="critical"
    )
    Rule.objects.create(station=site.station, type=T.STRANGER, zone=site.dorm, enabled=False)
    passage(site, site.gate, DAY, "in", "C-X1")
    passage(site, site.workshop, DAY, "in", "C-X2")
    passage(site, site.dorm, DAY, "in", "C-X3")
    run()
    assert [(a.credential, a.severity) for a in alerts(T.STRANGER)] == [
        ("C-X1", "medium"),
        ("C-X2", "critical"),
    ]


def test_after_hours_schedule_from_a_rule(site):
    Rule.objects.create(
        station=site.station, type=T.AFTER_HOURS, enterprise=site.enterprise, severity="critical",
        weekdays="12345", time_from=dt.time(22), time_until=dt.time(2),
    )  # fmt: skip
    passage(site, site.workshop, NIGHT, "in", card(site.alice))  # 23:00 allowed now
    passage(site, site.workshop, DAY, "in", card(site.bob))  # 10:00 not
    passage(site, site.workshop, DAY + dt.timedelta(days=5), "in", card(site.carol))  # Saturday
    run()
    assert [(a.person, a.severity) for a in alerts(T.AFTER_HOURS)] == [
        (site.bob, "critical"),
        (site.carol, "critical"),
    ]


def test_rulebook_defaults_without_rows(site):
    book = RuleBook([])
    settings = book.settings(T.WATCHLIST_HIT, site.station.pk, (site.dorm.pk,), None, site.park.pk)
    assert settings == DEFAULTS[T.WATCHLIST_HIT] and settings.severity == "critical"


def test_registry_changes_are_picked_up(site):
    evaluator = Evaluator(refresh_seconds=0)
    processor = Processor(on_facts=evaluator)
    m.Authorisation.objects.create(zone=site.dorm, person=site.carol)
    Rule.objects.create(station=site.station, type=T.ANTIPASSBACK, enabled=False)
    passage(site, site.dorm, DAY, "in", card(site.carol))
    passage(site, site.dorm, DAY, "in", card(site.carol), minutes=1)
    processor.run_once()
    assert alerts() == []


# --- the hot path and restarts ---------------------------------------------------------


def test_no_queries_per_fact_without_alerts(site, django_assert_max_num_queries):
    for i in range(30):
        passage(
            site, site.workshop if i % 2 else site.area, DAY, "in", card(site.alice), minutes=2 * i
        )
        passage(
            site,
            site.workshop if i % 2 else site.area,
            DAY,
            "out",
            card(site.alice),
            minutes=2 * i + 1,
        )
    evaluator = Evaluator(refresh_seconds=3600)
    processor = Processor(on_facts=evaluator)
    with django_assert_max_num_queries(15):
        processor.run_once()
    assert alerts() == []


class Crash(BaseException):
    """The process dying mid-batch: nothing of the batch commits, nothing is set aside
    (an ``Exception`` is set aside in the quarantine: ``events/tests/test_quarantine.py``)."""


def test_restart_after_a_crash_raises_each_alert_once(site):
    script = [
        (site.gate, "in", "C-NOBODY"),
        (site.workshop, "in", card(site.carol)),
        (site.workshop, "in", card(site.carol)),
        (site.lab, "in", card(site.bob)),
        (site.dorm, "out", card(site.alice)),
        (site.dorm, "out", card(site.alice)),  # a second exit in a row: a passback
        (site.gate, "in", "C-SOMEONE"),
    ]
    for i, (zone, direction, credential) in enumerate(script):
        passage(site, zone, DAY, direction, credential, minutes=i)
    evaluator = Evaluator(refresh_seconds=0)
    calls = []

    def crash_on_second_batch(facts):
        evaluator(facts)
        calls.append(len(facts))
        if len(calls) == 2:
            raise Crash("crash")

    with pytest.raises(Crash):
        Processor(batch=2, on_facts=crash_on_second_batch).run_once()
    after_crash = Alert.objects.count()
    assert after_crash > 0  # the first batch committed its alerts
    run(batch=2)
    run(batch=2)  # and again: nothing new
    counts = {(a.type, a.source_key): a.repeat_count for a in alerts()}
    assert counts == {
        (T.STRANGER, f"stranger:{site.station.pk}:card:C-NOBODY"): 1,
        (T.UNAUTHORISED_ZONE, f"person:{site.carol.pk}:zone:{site.workshop.pk}"): 2,
        (T.ANTIPASSBACK, f"person:{site.carol.pk}:zone:{site.workshop.pk}"): 1,
        (T.QUALIFICATION_EXPIRED, f"person:{site.bob.pk}:zone:{site.lab.pk}"): 1,
        (T.ANTIPASSBACK, f"person:{site.alice.pk}:zone:{site.dorm.pk}"): 1,
        (T.STRANGER, f"stranger:{site.station.pk}:card:C-SOMEONE"): 1,
    }


def test_command_evaluates_rules_unless_told_not_to(site, capsys):
    passage(site, site.gate, DAY, "in", "C-NOBODY")
    call_command("process", "--once", "--no-rules")
    assert alerts() == []
    passage(site, site.gate, DAY, "in", "C-SOMEONE", minutes=1)
    call_command("process", "--once")
    assert [a.credential for a in alerts()] == ["C-SOMEONE"]
    assert "1 alerts raised or repeated" in capsys.readouterr().out


def test_a_condition_repeated_in_one_batch_is_written_once(site, django_assert_max_num_queries):
    """A backlog repeating one condition (a device delivering a day at once) costs one
    alert write per (type, source) and batch, with the count, first and last time."""
    for i in range(40):
        passage(site, site.gate, DAY, "in", "C-NOBODY", minutes=i)
    evaluator = Evaluator(refresh_seconds=3600)
    processor = Processor(on_facts=evaluator)
    with django_assert_max_num_queries(30):
        processor.run_once()
    (alert,) = alerts(T.STRANGER)
    assert alert.repeat_count == 40
    (passback,) = alerts(T.ANTIPASSBACK)  # 39 double entries
    assert passback.repeat_count == 39 and evaluator.raised == 40 + 39
    assert alert.first_seen == DAY and alert.last_seen == DAY + dt.timedelta(minutes=39)
    # the next batch repeats the open alert
    passage(site, site.gate, DAY, "in", "C-NOBODY", minutes=50)
    processor.run_once()
    alert.refresh_from_db()
    assert alert.repeat_count == 41


def test_rules_decide_in_memory_and_write_in_the_batch_transaction(site):
    """The processor asks the rules before its transaction (``decide``: no query once
    the registry is loaded, the occupancy from the processor) and writes the alerts in
    it (``write``); over capacity still counts from the occupancy before the batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    passage(site, site.workshop, DAY, "in", card(site.alice))
    processor = Processor(on_facts=Evaluator(refresh_seconds=3600))
    processor.run_once()
    for name, minutes in (("bob", 1), ("carol", 2), ("NOBODY", 3)):
        passage(site, site.workshop, DAY, "in", f"C-{name}", minutes=minutes)
    evaluator = processor.on_facts
    decide, seen = evaluator.decide, {}

    def counting(facts, occupancy=None):
        with CaptureQueriesContext(connection) as queries:
            decide(facts, occupancy=occupancy)
        seen.update(queries=len(queries), held=len(evaluator.pending), alerts=len(alerts()))

    evaluator.decide = counting
    processor.run_once()
    assert seen == {"queries": 0, "held": 3, "alerts": 0}
    assert {a.type for a in alerts()} == {T.STRANGER, T.UNAUTHORISED_ZONE, T.OVER_CAPACITY}
    (over,) = alerts(T.OVER_CAPACITY)
    # raised by the third inside (alice, then bob and carol), repeated by the fourth
    assert over.detail["count"] == 3 and over.repeat_count == 2
