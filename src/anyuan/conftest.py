"""Shared test fixtures: a small two-station world with every kind of registry object
and one user per role, so tests can check what each role may and may not see.

``home``: station A with enterprise E1 (the users' own) and E2 (a neighbour in the same
park). ``foreign``: station B with its own enterprise. Objects outside the users' reach
carry the marker ``NEIGHBOUR`` or ``FOREIGN`` in their names.
"""

import datetime as dt
from types import SimpleNamespace

import pytest

from anyuan.core.roles import Role
from anyuan.core.testing import make_credit_code, make_id_number, make_phone

PASSWORD = "Anyuan-test-2026!"


def build_tenant(tag: str, seq: int, station_code: str):
    """One station with a park, two enterprises and one of everything."""
    from anyuan.alerts.models import Alert
    from anyuan.events.models import DeviceAlarm, Passage, Quarantine
    from anyuan.registry import models as m

    n = seq * 100
    t = SimpleNamespace()
    t.station = m.Station.objects.create(name=f"{tag} 派出所", code=station_code)
    t.park = m.Park.objects.create(station=t.station, name=f"{tag} 园区")
    t.grid = m.PoliceGrid.objects.create(station=t.station, name=f"{tag} 警格1", position=1)
    t.officer = m.Officer.objects.create(
        station=t.station, name=f"{tag} 民警", badge_number=f"{seq}001", phone=make_phone(n + 1)
    )
    t.contact_group = m.ContactGroup.objects.create(
        station=t.station, name=f"{tag} 包保组", leader=t.officer
    )
    t.contact_group.members.add(t.officer)
    t.agency = m.LabourAgency.objects.create(
        station=t.station, name=f"{tag} 劳务", credit_code=make_credit_code(n + 2)
    )
    t.qualification_type, _ = m.QualificationType.objects.get_or_create(
        code="hazchem", defaults={"name": "危化品培训", "validity_months": 12}
    )

    def enterprise(label, k):
        e = SimpleNamespace()
        e.enterprise = m.Enterprise.objects.create(
            station=t.station,
            park=t.park,
            name=f"{label} 公司",
            credit_code=make_credit_code(n + 10 + k),
            grid=t.grid,
            contact_group=t.contact_group,
        )
        e.zone = m.Zone.objects.create(
            park=t.park,
            name=f"{label} 车间",
            ring="production",
            kind="workshop",
            enterprise=e.enterprise,
            code=f"{label}-W",
        )
        e.device = m.Device.objects.create(
            zone=e.zone, name=f"{label} 闸机", kind="gate", serial=f"{label}-SN", direction="in"
        )
        e.person = m.Person.objects.create(
            station=t.station,
            enterprise=e.enterprise,
            name=f"{label} 员工",
            id_number=make_id_number(n + 20 + k),
            phone=make_phone(n + 20 + k),
            employee_number=f"{label}-E1",
        )
        e.colleague = m.Person.objects.create(
            station=t.station,
            enterprise=e.enterprise,
            name=f"{label} 同事",
            id_number=make_id_number(n + 30 + k),
        )
        e.qualification = m.Qualification.objects.create(
            person=e.person,
            type=t.qualification_type,
            number=f"{label}-Q",
            valid_until=dt.date(2030, 1, 1),
        )
        e.vehicle = m.Vehicle.objects.create(
            station=t.station,
            plate=f"浙B{seq}{k}{k}{k}{k}",
            enterprise=e.enterprise,
            owner=e.person,
            brand=label,
        )
        e.group = m.AccessGroup.objects.create(
            station=t.station, enterprise=e.enterprise, name=f"{label} 门禁组"
        )
        e.group.members.add(e.person)
        e.authorisation = m.Authorisation.objects.create(zone=e.zone, person=e.person, note=label)
        e.watch = m.WatchlistEntry.objects.create(
            station=t.station,
            enterprise=e.enterprise,
            kind="plate",
            plate=f"浙C{seq}{k}{k}{k}{k}",
            reason=f"{label} 黑名单",
            name=f"{label} 名单",
        )
        at = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
        e.passage = Passage.objects.create(
            device=e.device,
            zone=e.zone,
            device_event_id=f"{label}-1",
            event_time=at,
            received_time=at,
            direction="in",
            method="card",
            credential=f"{label}-CARD",
        )
        e.device_alarm = DeviceAlarm.objects.create(
            device=e.device,
            zone=e.zone,
            device_event_id=f"{label}-A1",
            kind="intrusion",
            event_time=at,
            received_time=at,
        )
        # an event the processor set aside (police only, even for the zone's enterprise)
        e.quarantine = Quarantine.objects.create(
            processor="presence",
            passage=e.passage,
            zone=e.zone,
            reason="subject_deleted",
            message=f"card {label}-CARD → person 0",
            created=at,
        )
        e.alert = Alert.objects.create(
            station=t.station,
            enterprise=e.enterprise,
            zone=e.zone,
            device=e.device,
            type="intrusion",
            source_key=f"device:{label}-SN",
            title=f"{label} 入侵告警",
        )
        e.informant = m.Informant.objects.create(
            person=e.colleague, workshop=e.zone, team=f"{label} 班组"
        )
        from anyuan.disputes.testing import add_world_objects

        add_world_objects(t, e, label)  # a dispute case, its files, warnings, an incident
        return e

    t.shared_zone = m.Zone.objects.create(
        park=t.park, name=f"{tag} 园区大门", ring="park", kind="gate", code=f"{tag}-G"
    )
    t.police_watch = m.WatchlistEntry.objects.create(
        station=t.station,
        kind="person",
        name=f"{tag} 布控人员",
        id_number=make_id_number(n + 90),
        reason=f"{tag} 在逃",
    )
    return t, enterprise


def add_rules(foreign_station, neighbour):
    """Alert rule rows out of the users' reach: a station-wide row of the foreign station
    and a row of the neighbour enterprise. Only these two, with the defaults' settings
    (empty severity, thresholds and schedule), so they change no rule's outcome."""
    from anyuan.alerts.models import Rule

    foreign_station.rule = Rule.objects.create(
        station=foreign_station.station, type="tamper", note="FOREIGN station rule"
    )
    neighbour.rule = Rule.objects.create(
        station=neighbour.enterprise.station,
        enterprise=neighbour.enterprise,
        type="tamper",
        note="NEIGHBOUR rule",
    )


def add_trace_runs(foreign_station, foreign, neighbour):
    """Contact-tracing runs out of the users' reach: one of the foreign station's police
    and one of the neighbour enterprise (its own zones)."""
    from anyuan.tracing.models import TraceRun

    at = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    common = {
        "window_start": at - dt.timedelta(days=14),
        "window_end": at,
        "minutes": 15,
        "hops": 2,
    }
    foreign.trace_run = TraceRun.objects.create(
        station=foreign_station.station, reason="FOREIGN trace", **common
    )
    neighbour.trace_run = TraceRun.objects.create(
        station=neighbour.enterprise.station,
        enterprise=neighbour.enterprise,
        reason="NEIGHBOUR trace",
        **common,
    )


def add_import_jobs(foreign, foreign_users, neighbour, neighbour_users):
    """Background imports out of the users' reach (a job is seen by its own user only)."""
    from anyuan.registry.models import ImportJob

    foreign.import_job = ImportJob.objects.create(
        user=foreign_users[Role.ENTERPRISE_ADMIN], kind="people", filename="FOREIGN.xlsx"
    )
    neighbour.import_job = ImportJob.objects.create(
        user=neighbour_users[Role.ENTERPRISE_ADMIN], kind="people", filename="NEIGHBOUR.xlsx"
    )


@pytest.fixture(autouse=True, scope="session")
def force_login_passes_second_factor():
    """``Client.force_login`` signs in *and* passes the second factor
    (``core.testing.verified_session``), so that tests of what a role may see need no code
    step; ``core.testing.password_only_login`` signs in with the password step only."""
    import functools

    from django.test.client import ClientMixin

    from anyuan.core.testing import verified_session

    original = ClientMixin.force_login

    @functools.wraps(original)
    def force_login(self, user, backend=None):
        original(self, user, backend)
        verified_session(self, user)

    ClientMixin.force_login = force_login
    yield
    ClientMixin.force_login = original


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Tests create many users; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(username, role, **place):
    from anyuan.accounts.models import User

    user = User(username=username, role=role, **place)
    user.set_password(PASSWORD)
    user.full_clean(exclude=["password"])
    user.save()
    return user


@pytest.fixture
def world(db):
    home, home_enterprise = build_tenant("HOME", 1, "A")
    own = home_enterprise("OWN", 1)
    neighbour = home_enterprise("NEIGHBOUR", 2)
    foreign_t, foreign_enterprise = build_tenant("FOREIGN", 2, "B")
    foreign = foreign_enterprise("FOREIGN", 3)
    add_rules(foreign_t, neighbour)
    add_trace_runs(foreign_t, foreign, neighbour)

    users = {
        Role.POLICE_ADMIN: make_user("police_admin", Role.POLICE_ADMIN, station=home.station),
        Role.POLICE_OFFICER: make_user("police_officer", Role.POLICE_OFFICER, station=home.station),
        Role.ENTERPRISE_ADMIN: make_user(
            "enterprise_admin", Role.ENTERPRISE_ADMIN, enterprise=own.enterprise
        ),
        Role.ENTERPRISE_SECURITY: make_user(
            "enterprise_security", Role.ENTERPRISE_SECURITY, enterprise=own.enterprise
        ),
        Role.INFORMANT: make_user("informant", Role.INFORMANT, person=own.colleague),
        Role.EMPLOYEE: make_user("employee", Role.EMPLOYEE, person=own.person),
        Role.PARTNER: make_user("partner", Role.PARTNER, station=home.station),
    }
    foreign_users = {
        Role.POLICE_ADMIN: make_user(
            "FOREIGN_police_admin", Role.POLICE_ADMIN, station=foreign_t.station
        ),
        Role.ENTERPRISE_ADMIN: make_user(
            "FOREIGN_enterprise_admin", Role.ENTERPRISE_ADMIN, enterprise=foreign.enterprise
        ),
        Role.EMPLOYEE: make_user("FOREIGN_employee", Role.EMPLOYEE, person=foreign.person),
    }
    neighbour_users = {
        Role.ENTERPRISE_ADMIN: make_user(
            "NEIGHBOUR_admin", Role.ENTERPRISE_ADMIN, enterprise=neighbour.enterprise
        ),
        Role.EMPLOYEE: make_user("NEIGHBOUR_employee", Role.EMPLOYEE, person=neighbour.person),
    }
    add_import_jobs(foreign, foreign_users, neighbour, neighbour_users)
    return SimpleNamespace(
        home=home, own=own, neighbour=neighbour, foreign_station=foreign_t, foreign=foreign,
        users=users, foreign_users=foreign_users, neighbour_users=neighbour_users, password=PASSWORD,
    )  # fmt: skip
