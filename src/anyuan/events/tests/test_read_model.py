"""One read model: the device status page and API, the dashboard and the alert rules say the
same about the same device and zone — silent or not, over capacity or not — because they
all ask ``events.queries`` (the rules with their configured thresholds, the others with the
defaults, which are the rules' defaults)."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from anyuan.alerts.evaluator import Evaluator
from anyuan.alerts.models import Alert
from anyuan.alerts.rules import DEFAULTS
from anyuan.alerts.tests.test_rules import DAY, alerts, card, passage, run
from anyuan.alerts.tests.test_rules import site as site  # the fixture, re-exported
from anyuan.conftest import make_user
from anyuan.core.roles import Role
from anyuan.events import queries
from anyuan.events.models import DeviceLink
from anyuan.events.processor import Processor
from anyuan.registry import models as m

T = Alert.Type
MIN = dt.timedelta(minutes=1)


@pytest.fixture
def police(site):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("rm_police", Role.POLICE_ADMIN, station=site.station))
    return client


def json(response):
    assert response.status_code == 200, response.content
    return response.json()


def heard(device, when):
    DeviceLink.objects.update_or_create(
        device=device, defaults={"last_seen": when, "last_heartbeat": when}
    )


def test_the_pages_and_dashboard_use_the_rules_default_thresholds():
    assert DEFAULTS[T.DEVICE_SILENT].thresholds["heartbeats"] == queries.SILENT_HEARTBEATS
    assert DEFAULTS[T.OVER_CAPACITY].thresholds["factor"] == queries.CAPACITY_FACTOR


def test_a_silent_device_is_silent_on_the_page_the_api_the_dashboard_and_in_the_alerts(
    site, police
):
    now = timezone.now()
    lane = site.devices[site.gate.pk]  # heartbeat every 60 s: silent after three missed
    other = site.devices[site.workshop.pk]
    assert lane.heartbeat_seconds == other.heartbeat_seconds == 60
    heard(lane, now - 4 * MIN)  # past its heartbeat rule
    heard(other, now - 2 * MIN)  # just within it

    # the alert rules: the device_silent rule as configured (the default: 3 heartbeats)
    processor = Processor(on_facts=Evaluator(refresh_seconds=0), refresh_seconds=0)
    processor.check(now - 4 * MIN)  # the first check: devices are judged from here on
    processor.check(now)
    raised = {a.device_id for a in alerts(T.DEVICE_SILENT)}

    # the device status page
    page = police.get("/events/devices/")
    assert page.status_code == 200
    on_page = {r["serial"]: r["status"] for r in page.context["rows"]}

    # the API
    listed = json(police.get("/api/v1/events/devices", {"limit": 100}))["items"]
    in_api = {d["serial"]: d["silent"] for d in listed}

    # the dashboard
    dash = json(police.get("/api/v1/dashboard/devices"))
    on_dashboard = {d["serial"] for d in dash["silent_devices"]}

    assert raised == {lane.pk}
    assert on_page[lane.serial] == "silent" and on_page[other.serial] == "online"
    assert in_api[lane.serial] is True and in_api[other.serial] is False
    assert on_dashboard == {lane.serial} and dash["silent"] == 1
    assert dash["online"] == 1  # the other one


def test_a_zone_over_capacity_is_over_on_the_page_the_api_the_dashboard_and_in_the_alerts(
    site, police
):
    workshop, dorm = site.workshop, site.dorm  # both take two
    dorm.capacity = 2
    dorm.save()
    assert workshop.capacity == 2
    for i, person in enumerate((site.alice, site.bob, site.carol)):
        passage(site, workshop, DAY, "in", card(person), minutes=i)  # three of two
    for i, name in enumerate(("dave", "erin")):
        m.Person.objects.create(station=site.station, name=name, card_number=f"C-{name}")
        passage(site, dorm, DAY, "in", f"C-{name}", minutes=i)  # two of two: just not over
    run()

    raised = {a.zone_id for a in alerts(T.OVER_CAPACITY)}

    page = police.get("/events/occupancy/")
    assert page.status_code == 200
    on_page = {z["id"]: z["over_capacity"] for z in page.context["zones"]}

    api = json(police.get("/api/v1/events/occupancy", {"zone": site.area.pk}))
    in_api = {z["id"]: z["over_capacity"] for z in api["zones"]}

    dash = json(police.get("/api/v1/dashboard/occupancy", {"zones": 100}))
    on_dashboard = {z["id"]: z["over_capacity"] for z in dash["zones"]}
    mapped = json(police.get("/api/v1/dashboard/zones"))
    on_map = {z["id"]: z["over_capacity"] for z in mapped["zones"]}

    assert raised == {workshop.pk}
    for seen in (on_page, in_api, on_dashboard, on_map):
        assert seen[workshop.pk] is True and seen[dorm.pk] is False


def test_the_thresholds_are_parameters():
    now = timezone.now()
    assert queries.is_silent(now - 4 * MIN, 60, now)
    assert not queries.is_silent(now - 4 * MIN, 60, now, heartbeats=5)
    assert queries.is_silent(None, 60, now)  # never heard
    assert queries.device_status(True, None, 60, now) == "never_heard"
    assert queries.device_status(False, now - 4 * MIN, 60, now) == "inactive"
    assert queries.over_capacity(3, 2) and not queries.over_capacity(2, 2)
    assert not queries.over_capacity(3, 2, factor=1.5) and queries.over_capacity(4, 2, 1.5)
    assert not queries.over_capacity(10, None)  # no capacity: never over
