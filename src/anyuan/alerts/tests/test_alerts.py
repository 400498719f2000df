import datetime as dt
import io
import json

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from anyuan.alerts import actions
from anyuan.alerts.models import Alert, AlertNote
from anyuan.core.actions import ValidationFailed
from anyuan.core.events import subscribe, unsubscribe
from anyuan.core.models import AuditEntry
from anyuan.core.roles import Role
from anyuan.core.system import SYSTEM

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def raise_for(tenant, station, *, type="stranger", severity="medium", at=T0, key=None):
    return actions.raise_alert(
        SYSTEM,
        type=type,
        source_key=key or f"device:{tenant.device.serial}",
        station=station,
        severity=severity,
        zone=tenant.zone,
        device=tenant.device,
        at=at,
    )


def audit_steps(alert):
    entries = AuditEntry.objects.filter(object_type="alerts.alert", object_id=str(alert.pk))
    return [e.after.get("transition") for e in entries.order_by("at", "pk")]


@pytest.fixture
def alerts(world):
    """One open alert in the own enterprise, the neighbour's and the foreign station's."""
    world.own_alert, _ = raise_for(world.own, world.home.station)
    world.neighbour_alert, _ = raise_for(world.neighbour, world.home.station)
    world.foreign_alert, _ = raise_for(world.foreign, world.foreign_station.station)
    return world


def api_client(user):
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the messages checked are English
    return client


def post(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


# --- raising and repeats ----------------------------------------------------------------


@pytest.mark.django_db
def test_raising_twice_counts_a_repeat_on_one_alert(world):
    first, created = raise_for(world.own, world.home.station)
    later = T0 + dt.timedelta(minutes=3)
    second, created_again = raise_for(world.own, world.home.station, at=later, severity="high")
    assert created and not created_again
    assert first.pk == second.pk
    assert Alert.objects.filter(source_key=first.source_key, type="stranger").count() == 1
    assert second.repeat_count == 2
    assert second.first_seen == T0 and second.last_seen == later
    assert second.severity == "high"  # a worse repeat raises the severity
    assert second.enterprise_id == world.own.enterprise.pk  # the zone's owner
    assert audit_steps(second) == ["raise"]


@pytest.mark.django_db
def test_other_type_or_source_opens_another_alert(world):
    made = [
        raise_for(world.own, world.home.station),
        raise_for(world.own, world.home.station, type="tamper"),
        raise_for(world.own, world.home.station, key="zone:1"),
    ]
    assert len({alert.pk for alert, _created in made}) == 3
    assert all(created for _alert, created in made)


@pytest.mark.django_db
def test_after_resolve_raising_again_opens_a_new_alert(world):
    first, _ = raise_for(world.own, world.home.station)
    actions.resolve(world.users[Role.ENTERPRISE_SECURITY], first, note="gate checked")
    second, created = raise_for(world.own, world.home.station)
    assert created and second.pk != first.pk
    assert second.repeat_count == 1 and second.state == "new"


@pytest.mark.django_db
def test_database_allows_one_open_alert_per_source_and_type(world):
    alert, _ = raise_for(world.own, world.home.station)
    copy = {
        "station": alert.station,
        "type": alert.type,
        "source_key": alert.source_key,
        "title": "x",
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(**copy)
    Alert.objects.create(**copy, state="resolved")  # closed ones may repeat
    Alert.objects.create(**copy, state="false_alarm")


@pytest.mark.django_db
def test_people_do_not_raise_alerts(world):
    with pytest.raises(PermissionDenied):
        actions.raise_alert(
            world.users[Role.ENTERPRISE_ADMIN],
            type="stranger",
            source_key="x",
            station=world.home.station,
        )
    with pytest.raises(ValidationFailed):
        actions.raise_alert(SYSTEM, type="nonsense", source_key="x", station=world.home.station)


# --- the lifecycle ----------------------------------------------------------------------


@pytest.mark.django_db
def test_lifecycle_steps_and_audit(alerts):
    guard = alerts.users[Role.ENTERPRISE_SECURITY]
    officer = alerts.users[Role.POLICE_OFFICER]
    alert = alerts.own_alert
    alert = actions.acknowledge(guard, alert)
    assert alert.state == "acknowledged" and alert.acknowledged_by == guard
    with pytest.raises(actions.TransitionRefused):
        actions.acknowledge(officer, alert)
    alert = actions.dispatch(officer, alert, to=guard.pk, note="go to the gate")
    assert alert.state == "dispatched" and alert.dispatched_to == guard
    assert alert.acknowledged_by == guard  # kept from the first acknowledgement
    with pytest.raises(actions.TransitionRefused):
        actions.dispatch(officer, alert, to=guard.pk)
    actions.add_note(guard, alert, "door was open")
    with pytest.raises(ValidationFailed) as e:
        actions.resolve(guard, alert, note="  ")
    assert "note" in e.value.errors
    alert = actions.resolve(guard, alert, note="closed the door")
    assert alert.state == "resolved" and alert.resolved_by == guard and alert.resolved_at
    for step in (actions.acknowledge, actions.resolve, actions.mark_false_alarm):
        with pytest.raises(actions.TransitionRefused):
            step(guard, alert, note="again")
    assert audit_steps(alert) == ["raise", "acknowledge", "dispatch", "note", "resolve"]
    assert list(alert.notes.values_list("text", flat=True)) == [
        "go to the gate",
        "door was open",
        "closed the door",
    ]


@pytest.mark.django_db
def test_false_alarm_from_new_needs_a_note(alerts):
    admin = alerts.users[Role.ENTERPRISE_ADMIN]
    with pytest.raises(ValidationFailed):
        actions.mark_false_alarm(admin, alerts.own_alert, note="")
    assert Alert.objects.get(pk=alerts.own_alert.pk).state == "new"
    alert = actions.mark_false_alarm(admin, alerts.own_alert, note="a cat")
    assert alert.state == "false_alarm"
    assert audit_steps(alert) == ["raise", "false_alarm"]


@pytest.mark.django_db
def test_dispatch_from_new_acknowledges_and_checks_the_target(alerts):
    admin = alerts.users[Role.ENTERPRISE_ADMIN]
    police = alerts.users[Role.POLICE_ADMIN]
    with pytest.raises(ValidationFailed):  # an enterprise sends its own people only
        actions.dispatch(admin, alerts.own_alert, to=police.pk)
    with pytest.raises(ValidationFailed):  # nor the neighbour's
        actions.dispatch(admin, alerts.own_alert, to=alerts.neighbour_users[Role.ENTERPRISE_ADMIN])
    with pytest.raises(ValidationFailed):
        actions.dispatch(admin, alerts.own_alert, to=None)
    alert = actions.dispatch(police, alerts.own_alert, to=alerts.users[Role.POLICE_OFFICER])
    assert alert.state == "dispatched" and alert.acknowledged_by == police


@pytest.mark.django_db
def test_steps_publish_live_events(alerts, django_capture_on_commit_callbacks):
    seen = []

    def handler(topic, payload):
        seen.append(payload["transition"])

    subscribe(actions.TOPIC, handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            actions.acknowledge(alerts.users[Role.ENTERPRISE_ADMIN], alerts.own_alert)
            raise_for(alerts.own, alerts.home.station)
    finally:
        unsubscribe(actions.TOPIC, handler)
    assert seen == ["acknowledge", "repeat"]


@pytest.mark.django_db
def test_nobody_acts_outside_their_scope(alerts):
    for user in (
        alerts.users[Role.ENTERPRISE_ADMIN],
        alerts.users[Role.EMPLOYEE],
        alerts.users[Role.INFORMANT],
    ):
        with pytest.raises(PermissionDenied):
            actions.acknowledge(user, alerts.neighbour_alert)
    with pytest.raises(PermissionDenied):
        actions.add_note(alerts.users[Role.POLICE_ADMIN], alerts.foreign_alert, "x")
    assert AlertNote.objects.count() == 0
    mine = [alerts.own_alert.pk, alerts.neighbour_alert.pk, alerts.foreign_alert.pk]
    assert Alert.objects.filter(pk__in=mine, state="new").count() == 3


# --- escalation -------------------------------------------------------------------------


@pytest.mark.django_db
def test_escalation_after_the_limit_and_not_before(world, settings):
    settings.ANYUAN_ALERT_ESCALATION = {"critical": 120, "high": 300}
    critical, _ = raise_for(world.own, world.home.station, severity="critical")
    high, _ = raise_for(world.neighbour, world.home.station, severity="high")
    low, _ = raise_for(world.own, world.home.station, severity="low", key="zone:x")
    acked, _ = raise_for(world.own, world.home.station, severity="critical", type="tamper")
    actions.acknowledge(world.users[Role.ENTERPRISE_ADMIN], acked)

    assert actions.escalate_overdue(T0 + dt.timedelta(seconds=119)) == []
    done = actions.escalate_overdue(T0 + dt.timedelta(seconds=120))
    assert [a.pk for a in done] == [critical.pk]
    critical.refresh_from_db()
    assert critical.escalation_level == 1 and critical.severity == "critical"
    assert critical.escalated_at == T0 + dt.timedelta(seconds=120)
    # the clock restarts at each escalation
    assert actions.escalate_overdue(T0 + dt.timedelta(seconds=200)) == []

    done = actions.escalate_overdue(T0 + dt.timedelta(seconds=300))
    assert {a.pk for a in done} == {high.pk, critical.pk}
    high.refresh_from_db()
    assert high.severity == "critical" and high.escalation_level == 1
    low.refresh_from_db()
    acked.refresh_from_db()
    assert low.escalation_level == 0 and acked.escalation_level == 0
    assert audit_steps(high) == ["raise", "escalate"]
    entry = AuditEntry.objects.filter(object_id=str(high.pk)).order_by("-pk").first()
    assert entry.before == {"escalation_level": 0, "escalated_at": None, "severity": "high"}
    assert entry.actor_name == "system"

    # low: default one hour
    assert low.pk in {a.pk for a in actions.escalate_overdue(T0 + dt.timedelta(hours=1))}


@pytest.mark.django_db
def test_escalation_stops_at_the_maximum_level(world, settings):
    settings.ANYUAN_ALERT_ESCALATION_MAX_LEVEL = 2
    alert, _ = raise_for(world.own, world.home.station, severity="critical")
    for minutes in (2, 4, 6, 8):
        actions.escalate_overdue(T0 + dt.timedelta(minutes=minutes))
    alert.refresh_from_db()
    assert alert.escalation_level == 2
    assert audit_steps(alert) == ["raise", "escalate", "escalate"]


# --- the API ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_scoping(alerts):
    ids = {a.pk: name for name, a in (
        ("own", alerts.own_alert), ("neighbour", alerts.neighbour_alert),
        ("foreign", alerts.foreign_alert),
    )}  # fmt: skip

    def visible(user):
        response = api_client(user).get("/api/v1/alerts")
        assert response.status_code == 200
        return {ids[row["id"]] for row in response.json()["items"] if row["id"] in ids}

    assert visible(alerts.users[Role.ENTERPRISE_ADMIN]) == {"own"}
    assert visible(alerts.users[Role.ENTERPRISE_SECURITY]) == {"own"}
    assert visible(alerts.users[Role.POLICE_OFFICER]) == {"own", "neighbour"}
    assert visible(alerts.users[Role.POLICE_ADMIN]) == {"own", "neighbour"}
    assert visible(alerts.foreign_users[Role.POLICE_ADMIN]) == {"foreign"}
    assert visible(alerts.users[Role.EMPLOYEE]) == set()
    assert visible(alerts.users[Role.INFORMANT]) == set()

    enterprise = api_client(alerts.users[Role.ENTERPRISE_ADMIN])
    pk = alerts.neighbour_alert.pk
    assert enterprise.get(f"/api/v1/alerts/{pk}").status_code == 404
    for step, body in (
        ("acknowledge", {}),
        ("dispatch", {"to": alerts.users[Role.ENTERPRISE_ADMIN].pk}),
        ("resolve", {"note": "x"}),
        ("false-alarm", {"note": "x"}),
        ("notes", {"text": "x"}),
    ):
        assert post(enterprise, f"/api/v1/alerts/{pk}/{step}", body).status_code == 404
    assert Alert.objects.get(pk=pk).state == "new"
    assert not AlertNote.objects.exists()
    police = api_client(alerts.users[Role.POLICE_OFFICER])
    assert police.get(f"/api/v1/alerts/{alerts.foreign_alert.pk}").status_code == 404
    assert police.get(f"/api/v1/alerts/{pk}").status_code == 200
    assert Client().get("/api/v1/alerts").status_code == 401


@pytest.mark.django_db
def test_api_lifecycle_and_errors(alerts):
    guard = alerts.users[Role.ENTERPRISE_SECURITY]
    client = api_client(guard)
    base = f"/api/v1/alerts/{alerts.own_alert.pk}"
    response = post(client, f"{base}/acknowledge")
    assert response.status_code == 200 and response.json()["state"] == "acknowledged"
    response = post(client, f"{base}/acknowledge")
    assert response.status_code == 409
    assert "cannot be acknowledged" in response.json()["detail"]
    assert post(client, f"{base}/dispatch", {}).status_code == 422
    assert post(client, f"{base}/dispatch", {"to": 2**63 - 1}).status_code == 422
    assert post(client, f"{base}/dispatch", {"to": 2**70}).status_code == 422
    response = post(client, f"{base}/dispatch", {"to": guard.pk, "note": "on my way"})
    assert response.status_code == 200 and response.json()["dispatched_to_id"] == guard.pk
    response = post(client, f"{base}/notes", {"text": "at the gate"})
    assert response.status_code == 201 and response.json()["author_name"] == guard.username
    assert post(client, f"{base}/notes", {"text": ""}).status_code == 422
    response = post(client, f"{base}/resolve", {})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "note"]
    assert post(client, f"{base}/resolve", {"note": "bad\x00"}).status_code == 422
    response = post(client, f"{base}/resolve", {"note": "all clear"})
    assert response.status_code == 200
    data = response.json()
    assert data["state"] == "resolved"
    assert [n["text"] for n in data["notes"]] == ["on my way", "at the gate", "all clear"]
    assert post(client, f"{base}/false-alarm", {"note": "x"}).status_code == 409


@pytest.mark.django_db
def test_api_list_filters_and_order(alerts):
    later = timezone.now() + dt.timedelta(hours=1)  # after any alert the world holds
    tamper, _ = raise_for(alerts.own, alerts.home.station, type="tamper", severity="high", at=later)
    client = api_client(alerts.users[Role.POLICE_ADMIN])

    def ids(query=""):
        response = client.get(f"/api/v1/alerts{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["items"]]

    assert ids()[0] == tamper.pk  # newest first
    assert ids("?type=tamper") == [tamper.pk]
    assert ids("?severity=high") == [tamper.pk]
    assert ids(f"?since={later.isoformat().replace('+', '%2B')}") == [tamper.pk]
    in_zone = Alert.objects.filter(zone=alerts.neighbour.zone).values_list("pk", flat=True)
    assert set(ids(f"?zone={alerts.neighbour.zone.pk}")) == set(in_zone)
    assert alerts.neighbour_alert.pk in in_zone and alerts.own_alert.pk not in in_zone
    assert ids("?state=resolved") == []
    assert client.get("/api/v1/alerts?state=nonsense").status_code == 422
    assert client.get(f"/api/v1/alerts?zone={2**64}").status_code == 422


# --- the pages --------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages(alerts):
    client = api_client(alerts.users[Role.ENTERPRISE_ADMIN])
    response = client.get("/alerts/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "OWN" in text and "NEIGHBOUR" not in text and "FOREIGN" not in text
    # the queue reloads its table when the live push announces an alert
    assert 'hx-trigger="anyuan:alert from:body' in text and 'id="object-table"' in text
    assert client.get(f"/alerts/{alerts.neighbour_alert.pk}/").status_code == 404
    response = client.post(f"/alerts/{alerts.neighbour_alert.pk}/", {"step": "acknowledge"})
    assert response.status_code == 404

    url = f"/alerts/{alerts.own_alert.pk}/"
    response = client.get(url)
    assert response.status_code == 200
    assert 'value="acknowledge"' in response.content.decode()
    response = client.post(url, {"step": "acknowledge"})
    assert response.status_code == 303 and response["Location"] == url
    response = client.post(url, {"step": "resolve", "note": ""}, follow=True)
    assert Alert.objects.get(pk=alerts.own_alert.pk).state == "acknowledged"
    assert "a note is required" in response.content.decode()
    response = client.post(
        url, {"step": "false_alarm", "note": "a cat on the fence"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "a cat on the fence" in text and 'id="alert"' in text
    assert Alert.objects.get(pk=alerts.own_alert.pk).state == "false_alarm"


@pytest.mark.django_db
def test_pages_refuse_people_without_alerts(alerts):
    for role in (Role.EMPLOYEE, Role.INFORMANT):
        client = api_client(alerts.users[role])
        response = client.get("/alerts/")
        assert response.status_code == 200
        assert "OWN" not in response.content.decode()
        assert client.get(f"/alerts/{alerts.own_alert.pk}/").status_code == 404


@pytest.mark.django_db
def test_escalate_command_once(world):
    alert, _ = raise_for(world.own, world.home.station, severity="critical")
    out = io.StringIO()
    call_command("escalate", "--once", stdout=out)  # T0 is long past
    assert "escalated 1 alert(s)" in out.getvalue()
    alert.refresh_from_db()
    assert alert.escalation_level == 1


def test_the_zone_owner_sees_an_alert_unless_it_is_raised_for_the_police_only(world):
    own = world.own
    by_default, _ = raise_for(own, world.home.station, key="owner:default")
    assert by_default.enterprise_id == own.enterprise.pk
    by_zone_id, _ = actions.raise_alert(
        SYSTEM, type="stranger", source_key="owner:id", station=world.home.station, zone=own.zone.pk
    )
    assert by_zone_id.enterprise_id == own.enterprise.pk
    police_only, _ = actions.raise_alert(
        SYSTEM,
        type="watchlist_hit",
        source_key="owner:police",
        station=world.home.station,
        zone=own.zone,
        enterprise=None,
    )
    assert police_only.enterprise_id is None
