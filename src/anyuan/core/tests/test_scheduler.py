"""One scheduler for the apps' periodic jobs (``anyuan.core.scheduler``): what is due runs,
a missed run catches up, no job runs twice at once, a failing job stops nothing else."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from anyuan.alerts.models import Alert
from anyuan.alerts.tests.test_alerts import raise_for
from anyuan.core import scheduler
from anyuan.core.models import ScheduledJob
from anyuan.core.roles import Role


@pytest.fixture
def own_jobs(monkeypatch):
    """A registry of this test's own jobs instead of the apps'."""
    monkeypatch.setattr(scheduler, "_registry", {})
    monkeypatch.setattr(scheduler, "_discovered", True)
    calls = []

    def job(name, fail=False, **schedule):
        def run():
            calls.append(name)
            if fail:
                raise RuntimeError(f"{name} broke")
            return {"done": 1}

        scheduler.register(name, run, **(schedule or {"every": 60}))

    job.calls = calls
    return job


def test_the_apps_declare_their_jobs():
    names = set(scheduler.jobs())
    assert {
        "alerts.escalate",
        "disputes.deadlines",
        "live.prune",
        "core.prune_rate_counters",
        "registry.import_jobs",
    } <= names


def test_a_tick_escalates_an_unacknowledged_alert_past_its_time(world):
    alert, _ = raise_for(world.own, world.home.station, severity="high")  # weeks ago
    assert alert.state == Alert.State.NEW and alert.escalation_level == 0
    outcomes = {o.name: o for o in scheduler.tick()}
    assert outcomes["alerts.escalate"].status == scheduler.OK
    assert outcomes["alerts.escalate"].result == {"escalated": 1}
    alert.refresh_from_db()
    assert alert.escalation_level == 1 and alert.severity == "critical"
    row = ScheduledJob.objects.get(name="alerts.escalate")
    assert row.last_result == "escalated 1" and row.runs == 1 and not row.lease_owner
    assert row.next_run == row.last_started + dt.timedelta(seconds=15)
    # not due again before its interval: the next tick leaves it alone
    assert "alerts.escalate" not in {o.name for o in scheduler.tick()}


def test_a_missed_run_catches_up_once_after_a_restart(db, own_jobs):
    own_jobs("t.hourly", every=3600)
    own_jobs("t.later", every=3600)
    now = timezone.now()
    long_ago = now - dt.timedelta(days=30)
    ScheduledJob.objects.create(name="t.hourly", last_started=long_ago, next_run=long_ago)
    ScheduledJob.objects.create(name="t.later", next_run=now + dt.timedelta(minutes=10))
    outcomes = scheduler.tick(now)
    assert [(o.name, o.status) for o in outcomes] == [("t.hourly", scheduler.OK)]
    assert own_jobs.calls == ["t.hourly"]  # once, not once per missed hour
    row = ScheduledJob.objects.get(name="t.hourly")
    assert row.next_run == now + dt.timedelta(hours=1) and row.last_success is not None
    assert scheduler.tick(now + dt.timedelta(minutes=5)) == []
    later = now + dt.timedelta(minutes=11)
    assert [o.name for o in scheduler.tick(later)] == ["t.later"]


def test_a_held_lease_skips_the_job_and_an_expired_one_is_taken_over(world):
    alert, _ = raise_for(world.own, world.home.station, severity="high")
    now = timezone.now()
    assert scheduler.acquire("alerts.escalate", "other-host:1", dt.timedelta(minutes=2), now)
    outcomes = {o.name: o for o in scheduler.tick()}
    assert outcomes["alerts.escalate"].status == scheduler.SKIPPED
    alert.refresh_from_db()
    assert alert.escalation_level == 0  # the other process is running it
    # a manual run goes through the same lease
    out = io.StringIO()
    call_command("escalate", "--once", stdout=out)
    assert "skipped" in out.getvalue()
    alert.refresh_from_db()
    assert alert.escalation_level == 0
    row = ScheduledJob.objects.get(name="alerts.escalate")
    assert row.lease_owner == "other-host:1" and row.runs == 0
    # the other process died: once its lease expires, the next tick takes it over
    ScheduledJob.objects.filter(name="alerts.escalate").update(
        lease_until=now - dt.timedelta(seconds=1)
    )
    outcomes = {o.name: o for o in scheduler.tick()}
    assert outcomes["alerts.escalate"].status == scheduler.OK
    alert.refresh_from_db()
    assert alert.escalation_level == 1
    row.refresh_from_db()
    assert row.lease_owner == "" and row.lease_until is None and row.runs == 1


def test_only_one_of_two_takes_the_lease(db):
    now = timezone.now()
    minute = dt.timedelta(minutes=1)
    assert scheduler.acquire("t.x", "a", minute, now)
    assert not scheduler.acquire("t.x", "b", minute, now + dt.timedelta(seconds=59))
    assert scheduler.acquire("t.x", "b", minute, now + minute)  # expired


def test_a_failing_job_stops_nothing_and_runs_again_at_its_next_time(db, own_jobs):
    own_jobs("t.a")
    own_jobs("t.b", fail=True)
    own_jobs("t.c")
    now = timezone.now()
    outcomes = scheduler.tick(now)
    assert [(o.name, o.status) for o in outcomes] == [
        ("t.a", scheduler.OK),
        ("t.b", scheduler.FAILED),
        ("t.c", scheduler.OK),
    ]
    failed = ScheduledJob.objects.get(name="t.b")
    assert "RuntimeError: t.b broke" in failed.last_error and failed.failures == 1
    assert failed.last_success is None and failed.lease_until is None
    assert failed.next_run == now + dt.timedelta(seconds=60)  # retried at its next time
    assert scheduler.tick(now + dt.timedelta(seconds=30)) == []
    outcomes = scheduler.tick(now + dt.timedelta(seconds=60))
    assert [o.status for o in outcomes] == [scheduler.OK, scheduler.FAILED, scheduler.OK]
    assert ScheduledJob.objects.get(name="t.b").failures == 2
    assert own_jobs.calls == ["t.a", "t.b", "t.c"] * 2


def test_the_scheduler_command_runs_what_is_due(db, own_jobs):
    own_jobs("t.a")
    own_jobs("t.b", fail=True)
    call_command("scheduler", "--once", stdout=io.StringIO())
    assert own_jobs.calls == ["t.a", "t.b"]
    out = io.StringIO()
    call_command("scheduler", "--list", stdout=out)
    assert "t.a" in out.getvalue() and "failed" in out.getvalue()
    call_command("scheduler", "--run", "t.a", stdout=io.StringIO())  # not due: run anyway
    assert own_jobs.calls[-1] == "t.a"


def test_a_daily_job_runs_at_its_time(own_jobs):
    own_jobs("t.nightly", at=dt.time(3, 0))
    job = scheduler.get("t.nightly")
    tz = timezone.get_current_timezone()
    before = dt.datetime(2026, 11, 2, 2, 0, tzinfo=tz)
    assert job.next_after(before) == dt.datetime(2026, 11, 2, 3, 0, tzinfo=tz)
    after = dt.datetime(2026, 11, 2, 3, 0, tzinfo=tz)
    assert job.next_after(after) == dt.datetime(2026, 11, 3, 3, 0, tzinfo=tz)
    with pytest.raises(ValueError):
        scheduler.register("t.both", print, every=60, at=dt.time(3, 0))


def test_the_jobs_show_to_the_police_administrator_only(world, own_jobs, settings, tmp_path):
    settings.ANYUAN_SITE_STATE = str(tmp_path / "none.json")
    own_jobs("t.ok")
    own_jobs("t.broken", fail=True)
    scheduler.tick()
    client = Client()
    client.force_login(world.users[Role.POLICE_ADMIN])
    page = client.get("/events/devices/").content.decode()
    assert "scheduled-jobs" in page and 'class="job-ok"' in page
    assert 'class="job-failed"' in page and "t.broken broke" in page
    for role in (Role.POLICE_OFFICER, Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_SECURITY):
        client.force_login(world.users[role])
        response = client.get("/events/devices/")
        assert response.status_code == 200
        text = response.content.decode()
        assert "scheduled-jobs" not in text and "t.broken" not in text
