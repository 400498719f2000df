"""Time limits on the business calendar (holidays and 调休 working weekends), reminders
before a limit ends, escalation after a breach; the group-incident warning."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from anyuan.alerts.models import Alert, Rule
from anyuan.core.roles import Role
from anyuan.disputes import actions, deadlines, workdays
from anyuan.disputes.models import Case, GroupWarning, State
from anyuan.disputes.tests.helpers import make_case
from anyuan.live.models import LiveMessage

CN = ZoneInfo("Asia/Shanghai")


def local(*args):
    return dt.datetime(*args, tzinfo=CN)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (local(2026, 11, 4, 10), 1, local(2026, 11, 5, 10)),  # Wednesday → Thursday
        (local(2026, 11, 6, 17), 1, local(2026, 11, 9, 17)),  # Friday → Monday
        (local(2026, 11, 7, 10), 1, local(2026, 11, 9, 10)),  # filed on Saturday
        (local(2026, 9, 30, 10), 1, local(2026, 10, 8, 10)),  # National Day week
        (local(2026, 9, 30, 10), 3, local(2026, 10, 10, 10)),  # … and Saturday 10 Oct is worked
        (local(2026, 2, 13, 9), 1, local(2026, 2, 14, 9)),  # Saturday 14 Feb: 调休 working day
        (local(2026, 2, 14, 9), 1, local(2026, 2, 24, 9)),  # then Spring Festival
        (local(2026, 11, 4, 10), 3, local(2026, 11, 9, 10)),
    ],
)
def test_working_days(start, days, due):
    assert workdays.add_working_days(start, days) == due


def test_the_calendar_knows_the_holidays():
    assert not workdays.is_working_day(dt.date(2026, 10, 1))
    assert workdays.is_working_day(dt.date(2026, 9, 20))  # a Sunday worked for the holiday
    assert "National Day" in workdays.holiday_name(dt.date(2026, 10, 1))


def test_local_days_off(settings):
    settings.ANYUAN_EXTRA_HOLIDAYS = ["2026-11-05"]
    assert workdays.add_working_days(local(2026, 11, 4, 10), 1) == local(2026, 11, 6, 10)
    settings.ANYUAN_EXTRA_WORKDAYS = ["2026-11-07"]
    assert workdays.add_working_days(local(2026, 11, 6, 10), 1) == local(2026, 11, 7, 10)


@pytest.mark.django_db
def test_limits_over_a_holiday(world):
    at = local(2026, 9, 30, 10)
    case = make_case(world, tier=1, at=at)
    actions.set_deadlines(case, at)
    assert case.due_contact == local(2026, 10, 8, 10)  # 24 h = one working day
    assert case.due_close == local(2026, 10, 10, 10)  # tier 1: three working days


def _filed_at(world, at, tier=1, type="fight"):
    case = make_case(world, tier=tier, type=type, at=at)
    actions.set_deadlines(case, at)
    case.save()
    return case


@pytest.mark.django_db
def test_reminder_before_the_limit_once(world):
    case = _filed_at(world, local(2026, 11, 4, 10))  # contact due Thu 5 Nov 10:00
    assert deadlines.run(local(2026, 11, 5, 5))["reminders"] == 0  # 5 h before
    counts = deadlines.run(local(2026, 11, 5, 7))  # 3 h before
    assert counts == {"reminders": 1, "escalated": 0, "breaches": 0}
    message = LiveMessage.objects.filter(topic="dispute").latest("pk")
    assert message.payload["step"] == "remind" and message.payload["limit"] == "contact"
    assert message.enterprise_id == world.own.enterprise.pk
    assert deadlines.run(local(2026, 11, 5, 8))["reminders"] == 0  # once
    case.refresh_from_db()
    assert case.reminded_contact is not None and case.state == State.REPORTED


@pytest.mark.django_db
def test_breach_escalates_to_the_next_tier(world):
    case = _filed_at(world, local(2026, 9, 30, 10))  # contact due 8 Oct 10:00
    assert deadlines.run(local(2026, 10, 7, 23))["escalated"] == 0  # still the holiday
    counts = deadlines.run(local(2026, 10, 8, 10, 1))
    assert counts["escalated"] == 1
    case.refresh_from_db()
    assert (case.state, case.tier, case.breaches) == (State.ESCALATED, 2, 1)
    step = case.transitions.latest("pk")
    assert step.name == "escalate" and step.breach and step.actor is None
    assert step.actor_name == "system" and "2026-10-08 10:00" in step.note
    assert case.due_contact == local(2026, 10, 9, 10, 1)  # the new tier's limits
    assert deadlines.run(local(2026, 10, 8, 12))["escalated"] == 0  # not twice


@pytest.mark.django_db
def test_result_breach_escalates_too(world):
    officer = world.users[Role.POLICE_OFFICER]
    case = _filed_at(world, local(2026, 11, 2, 9))  # Monday; result due Thu 5 Nov 09:00
    actions.step(officer, case, "accept")
    actions.step(officer, case, "mediate")
    assert deadlines.run(local(2026, 11, 5, 8, 59))["escalated"] == 0
    assert deadlines.run(local(2026, 11, 5, 9, 1))["escalated"] == 1
    case.refresh_from_db()
    assert case.state == State.ESCALATED and case.tier == 2


@pytest.mark.django_db
def test_breach_at_tier_3_is_recorded_once(world):
    case = _filed_at(world, local(2026, 11, 2, 9), tier=3)
    counts = deadlines.run(local(2026, 11, 3, 9, 1))
    assert counts == {"reminders": 0, "escalated": 0, "breaches": 1}
    case.refresh_from_db()
    assert (case.state, case.tier, case.breaches, case.due_contact) == (State.REPORTED, 3, 1, None)
    assert case.transitions.latest("pk").name == "breach"
    assert deadlines.run(local(2026, 11, 3, 12))["breaches"] == 0


@pytest.mark.django_db
def test_settled_cases_are_not_chased(world):
    case = _filed_at(world, local(2026, 11, 2, 9))
    Case.objects.filter(pk=case.pk).update(state=State.AGREEMENT)
    assert deadlines.run(local(2026, 12, 30, 9)) == {"reminders": 0, "escalated": 0, "breaches": 0}


@pytest.mark.django_db
def test_the_command(world, capsys):
    _filed_at(world, local(2020, 1, 6, 9))
    call_command("disputes_deadlines")
    assert "escalated 1" in capsys.readouterr().out


# --- group-incident warning ----------------------------------------------------------------


@pytest.fixture
def quiet(world):
    """No case or warning of the shared world fixture in the window."""
    GroupWarning.objects.all().delete()
    Case.objects.all().delete()
    return world


def file(world, user_role=Role.ENTERPRISE_ADMIN, enterprise=None, **data):
    user = (
        world.users[user_role]
        if enterprise is None
        else world.neighbour_users[Role.ENTERPRISE_ADMIN]
    )
    case, _codes = actions.file_case(
        user,
        {"type": "wages", "severity": "general", "summary": "拖欠工资", **data},
        [{"name": "工人"}],
    )
    return case


@pytest.mark.django_db
def test_three_wage_cases_warn_the_police(quiet):
    world = quiet
    first, second = file(world), file(world)
    file(world, type="fight")  # another kind
    file(world, enterprise="neighbour")  # another enterprise
    assert not GroupWarning.objects.filter(reason="cluster").exists()
    assert not Alert.objects.filter(type="group_incident").exists()
    third = file(world)
    warning = GroupWarning.objects.get(enterprise=world.own.enterprise)
    assert set(warning.cases.all()) == {first, second, third} and warning.case_count == 3
    alert = Alert.objects.get(type="group_incident")
    assert warning.alert == alert and alert.enterprise is None  # the police's
    assert alert.station == world.home.station and alert.severity == "high"
    assert alert.detail["count"] == 3 and third.number in alert.detail["cases"]
    assert LiveMessage.objects.filter(topic="alert", enterprise__isnull=True).exists()
    # the enterprise does not see the police's warning; the police do
    assert (
        not Alert.objects.restrict(world.users[Role.ENTERPRISE_ADMIN]).filter(pk=alert.pk).exists()
    )
    assert Alert.objects.restrict(world.users[Role.POLICE_OFFICER]).filter(pk=alert.pk).exists()
    file(world)  # a fourth: the same warning and alert, counted
    warning.refresh_from_db()
    alert.refresh_from_db()
    assert warning.case_count == 4 and alert.repeat_count == 2
    assert GroupWarning.objects.filter(enterprise=world.own.enterprise).count() == 1


@pytest.mark.django_db
def test_cases_outside_the_window_do_not_count(quiet):
    world = quiet
    old = file(world)
    Case.objects.filter(pk=old.pk).update(reported_at=old.reported_at - dt.timedelta(days=8))
    file(world)
    file(world)
    assert not GroupWarning.objects.exists()


@pytest.mark.django_db
def test_a_gathering_warns_at_once(quiet):
    world = quiet
    case = file(world, type="contract", gathering="1")
    assert case.tier == 3
    warning = GroupWarning.objects.get()
    assert warning.reason == "gathering" and list(warning.cases.all()) == [case]
    assert Alert.objects.filter(type="group_incident").count() == 1


@pytest.mark.django_db
def test_the_rule_sets_the_thresholds(quiet):
    world = quiet
    Rule.objects.create(
        station=world.home.station, enterprise=world.own.enterprise, type="group_incident",
        thresholds={"cases": 2, "days": 3},
    )  # fmt: skip
    file(world)
    file(world)
    assert GroupWarning.objects.filter(enterprise=world.own.enterprise).count() == 1
    Rule.objects.create(station=world.home.station, type="group_incident", enabled=False)
    file(world, enterprise="neighbour")
    file(world, enterprise="neighbour")
    file(world, enterprise="neighbour")
    assert not GroupWarning.objects.filter(enterprise=world.neighbour.enterprise).exists()


@pytest.mark.django_db
def test_rule_thresholds_are_checked(world):
    rule = Rule(station=world.home.station, type="group_incident", thresholds={"people": 3})
    assert rule.threshold_errors()
