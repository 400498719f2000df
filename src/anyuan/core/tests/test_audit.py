"""The audit log: every create, update, delete, reveal and export is recorded (who, what,
when, before/after, never personal data in clear), and police admins of the station — and
only they — can read it."""

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from anyuan.core import actions, audit
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.personal import plain
from anyuan.core.roles import Role
from anyuan.core.testing import make_id_number
from anyuan.registry.models import Person, Vehicle, Zone

API = "/api/v1/audit/entries"
NEW_ID = make_id_number(555, born=dt.date(1985, 5, 5))


def api_client(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def send(client, method, url, body=None):
    return getattr(client, method)(
        url, json.dumps(body) if body is not None else None, content_type="application/json"
    )


def entries(**kw):
    return AuditEntry.objects.filter(**kw)


def personal_values(world) -> list[str]:
    """Every ID and phone number of the world, in clear."""
    values = [NEW_ID, "13900001111", "13900002222"]
    for p in Person.objects.all():
        values += [plain(p.id_number), plain(p.phone)]
    return [v for v in values if v]


# --- writes are recorded ---------------------------------------------------------------


def test_create_through_the_api_is_recorded_with_the_new_state(world):
    user = world.users[Role.ENTERPRISE_ADMIN]
    started = timezone.now()
    r = send(
        api_client(user),
        "post",
        "/api/v1/registry/person",
        {
            "station_id": world.home.station.pk,
            "enterprise_id": world.own.enterprise.pk,
            "name": "新员工",
            "id_number": NEW_ID,
            "phone": "13900001111",
        },
    )
    assert r.status_code == 201, r.content
    entry = entries(action=AuditAction.CREATE, object_type="registry.person").get()
    assert entry.actor == user and entry.actor_name == "enterprise_admin"
    assert entry.object_id == str(r.json()["id"])
    assert entry.object_repr == "新员工"
    assert started <= entry.at <= timezone.now()
    assert entry.before is None
    assert entry.after["name"] == "新员工"
    assert entry.after["enterprise"] == world.own.enterprise.pk
    assert entry.after["id_number"] == "*" * 17 + NEW_ID[-1:]
    assert entry.after["phone"] == "139****1111"
    assert entry.station_id == world.home.station.pk
    assert entry.enterprise_id == world.own.enterprise.pk
    assert entry.remote_addr == "127.0.0.1"
    assert not any(k.endswith("_digest") for k in entry.after)


def test_update_is_recorded_with_only_what_changed(world):
    vehicle = world.own.vehicle
    r = send(
        api_client(world.users[Role.POLICE_OFFICER]),
        "patch",
        f"/api/v1/registry/vehicle/{vehicle.pk}",
        {"colour": "红", "brand": vehicle.brand},
    )
    assert r.status_code == 200, r.content
    entry = entries(action=AuditAction.UPDATE, object_type="registry.vehicle").get()
    assert entry.before == {"colour": ""}
    assert entry.after == {"colour": "红"}
    assert entry.actor == world.users[Role.POLICE_OFFICER]
    assert entry.object_id == str(vehicle.pk)


def test_an_update_that_changes_nothing_records_nothing(world):
    vehicle = world.own.vehicle
    client = api_client(world.users[Role.POLICE_OFFICER])
    r = send(client, "patch", f"/api/v1/registry/vehicle/{vehicle.pk}", {"brand": vehicle.brand})
    assert r.status_code == 200
    assert not entries().exists()


def test_a_changed_id_number_is_recorded_masked(world):
    person = world.own.person
    old = plain(person.id_number)
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]),
        "patch",
        f"/api/v1/registry/person/{person.pk}",
        {"id_number": NEW_ID},
    )
    assert r.status_code == 200, r.content
    entry = entries(action=AuditAction.UPDATE, object_type="registry.person").get()
    assert entry.before["id_number"] == "*" * 17 + old[-1:]
    assert entry.after["id_number"] == "*" * 17 + NEW_ID[-1:]
    text = json.dumps([entry.before, entry.after, entry.object_repr])
    assert old not in text and NEW_ID not in text
    # the date of birth derived from it is personal data too: beside the masked number it
    # gives the whole number back, so the snapshots never hold it in clear
    assert "1985-05-05" not in text and "1990-01-01" not in text
    assert audit.snapshot(Person.objects.get(pk=person.pk))["birth_date"] == "****-**-**"


def test_a_changed_phone_with_the_same_masked_form_is_still_recorded(world):
    """139****0121 → 139****0121: the masked snapshots are equal, the number is not."""
    person = world.own.person
    old = plain(person.phone)
    new = old[:3] + "9999" + old[-4:]
    assert new != old
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]),
        "patch",
        f"/api/v1/registry/person/{person.pk}",
        {"phone": new},
    )
    assert r.status_code == 200, r.content
    person.refresh_from_db()
    assert person.phone.reveal() == new
    entry = entries(action=AuditAction.UPDATE, object_type="registry.person").get()
    assert "phone" in entry.after and "phone" in entry.before
    text = json.dumps([entry.before, entry.after])
    assert old not in text and new not in text


def test_delete_is_recorded_with_the_last_state(world):
    vehicle = world.own.vehicle
    pk, plate = vehicle.pk, vehicle.plate
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]), "delete", f"/api/v1/registry/vehicle/{pk}"
    )
    assert r.status_code == 204
    assert not Vehicle.objects.filter(pk=pk).exists()
    entry = entries(action=AuditAction.DELETE).get()
    assert entry.object_type == "registry.vehicle"
    assert entry.object_id == str(pk)
    assert entry.object_repr == plate
    assert entry.before["plate"] == plate
    assert entry.after is None
    assert entry.station_id == world.home.station.pk
    assert entry.enterprise_id == world.own.enterprise.pk


def test_deleting_a_person_records_masked_personal_data(world):
    person = Person.objects.create(
        station=world.home.station,
        enterprise=world.own.enterprise,
        name="离职",
        id_number=NEW_ID,
        phone="13900002222",
    )
    actions.delete(world.users[Role.POLICE_ADMIN], person)
    entry = entries(action=AuditAction.DELETE, object_type="registry.person").get()
    assert entry.before["id_number"] == "*" * 17 + NEW_ID[-1:]
    assert entry.before["phone"] == "139****2222"
    assert NEW_ID not in json.dumps(entry.before)


def test_a_refused_write_records_nothing(world):
    client = api_client(world.users[Role.ENTERPRISE_ADMIN])
    r = send(client, "patch", f"/api/v1/registry/zone/{world.own.zone.pk}", {"enterprise_id": None})
    assert r.status_code in (403, 422)
    r = send(
        client,
        "post",
        "/api/v1/registry/vehicle",
        {"station_id": world.home.station.pk, "plate": "粤I12345"},
    )
    assert r.status_code == 422
    assert not entries().exists()
    world.own.zone.refresh_from_db()
    assert world.own.zone.enterprise_id == world.own.enterprise.pk


def test_m2m_changes_are_recorded(world):
    zone = world.own.zone
    qt = world.home.qualification_type
    r = send(
        api_client(world.users[Role.ENTERPRISE_ADMIN]),
        "patch",
        f"/api/v1/registry/zone/{zone.pk}",
        {"required_qualifications": [qt.pk]},
    )
    assert r.status_code == 200, r.content
    assert list(zone.required_qualifications.all()) == [qt]
    entry = entries(action=AuditAction.UPDATE, object_type="registry.zone").get()
    assert entry.before["required_qualifications"] == []
    assert entry.after["required_qualifications"] == [qt.pk]


def test_issuing_and_revoking_tokens_and_passwords_are_recorded(world):
    from anyuan.accounts import actions as account_actions

    admin = world.users[Role.ENTERPRISE_ADMIN]
    token, key = account_actions.issue_token(admin, admin, "门禁对接")
    account_actions.revoke_token(admin, token)
    account_actions.set_password(admin, admin, "Another-good-pass-2026")
    kinds = list(entries(actor=admin).order_by("id").values_list("action", flat=True))
    assert kinds == [AuditAction.TOKEN, AuditAction.UPDATE, AuditAction.UPDATE]
    text = json.dumps([[e.before, e.after, e.object_repr] for e in entries()])
    assert key not in text and "Another-good-pass-2026" not in text


def test_snapshots_never_hold_personal_data_in_clear(world):
    for obj in Person.objects.all():
        snap = json.dumps(audit.snapshot(obj), ensure_ascii=False)
        for value in (plain(obj.id_number), plain(obj.phone)):
            if value:
                assert value not in snap
    user = world.users[Role.POLICE_ADMIN]
    assert "password" not in audit.snapshot(user)


def test_no_audit_entry_of_a_session_holds_personal_data_in_clear(world):
    admin = api_client(world.users[Role.POLICE_ADMIN])
    r = send(
        admin,
        "post",
        "/api/v1/registry/person",
        {
            "station_id": world.home.station.pk,
            "enterprise_id": world.own.enterprise.pk,
            "name": "甲",
            "id_number": NEW_ID,
            "phone": "13900001111",
        },
    )
    pk = r.json()["id"]
    send(admin, "patch", f"/api/v1/registry/person/{pk}", {"phone": "13900002222"})
    send(
        admin,
        "post",
        f"/api/v1/registry/person/{pk}/reveal",
        {"field": "id_number", "reason": "核对身份"},
    )
    send(admin, "delete", f"/api/v1/registry/person/{pk}")
    assert set(entries().values_list("action", flat=True)) == {
        AuditAction.CREATE,
        AuditAction.UPDATE,
        AuditAction.REVEAL,
        AuditAction.DELETE,
    }
    dump = json.dumps(
        list(entries().values("before", "after", "object_repr", "reason")), ensure_ascii=False
    )
    for value in personal_values(world):
        assert value not in dump
    listing = admin.get(API, {"limit": 1000}).content.decode()
    for value in personal_values(world):
        assert value not in listing


# --- who can read the log --------------------------------------------------------------


@pytest.fixture
def logged(world):
    """One entry in each tenant: home/own, home/neighbour, foreign."""
    home = actions.update(world.users[Role.ENTERPRISE_ADMIN], world.own.zone, {"capacity": 10})
    neighbour = actions.update(
        world.neighbour_users[Role.ENTERPRISE_ADMIN], world.neighbour.zone, {"capacity": 20}
    )
    foreign = actions.update(
        world.foreign_users[Role.POLICE_ADMIN], world.foreign.zone, {"capacity": 30}
    )
    del home, neighbour, foreign
    return {
        "own": entries(object_id=str(world.own.zone.pk), object_type="registry.zone").get(),
        "neighbour": entries(
            object_id=str(world.neighbour.zone.pk), object_type="registry.zone"
        ).get(),
        "foreign": entries(object_id=str(world.foreign.zone.pk), object_type="registry.zone").get(),
    }


def test_police_admin_reads_the_log_of_their_station(world, logged):
    client = api_client(world.users[Role.POLICE_ADMIN])
    r = client.get(API, {"limit": 1000})
    assert r.status_code == 200
    ids = {e["id"] for e in r.json()["items"]}
    assert {logged["own"].pk, logged["neighbour"].pk} <= ids
    assert logged["foreign"].pk not in ids
    one = client.get(f"{API}/{logged['own'].pk}")
    assert one.status_code == 200
    assert one.json()["before"] == {"capacity": None}
    assert one.json()["after"]["capacity"] == 10
    assert one.json()["actor_name"] == "enterprise_admin"
    assert client.get(f"{API}/{logged['foreign'].pk}").status_code == 404


def test_another_station_s_police_admin_does_not_see_this_station_s_log(world, logged):
    client = api_client(world.foreign_users[Role.POLICE_ADMIN])
    ids = {e["id"] for e in client.get(API, {"limit": 1000}).json()["items"]}
    assert logged["foreign"].pk in ids
    assert logged["own"].pk not in ids and logged["neighbour"].pk not in ids
    assert client.get(f"{API}/{logged['own'].pk}").status_code == 404
    page = client.get("/audit/log/")
    assert page.status_code == 200
    assert world.own.zone.name not in page.content.decode()


@pytest.mark.parametrize(
    "role",
    [
        Role.POLICE_OFFICER,
        Role.ENTERPRISE_ADMIN,
        Role.ENTERPRISE_SECURITY,
        Role.INFORMANT,
        Role.EMPLOYEE,
    ],
)
def test_other_roles_cannot_read_the_log(world, logged, role):
    client = api_client(world.users[role])
    r = client.get(API, {"limit": 1000})
    assert r.status_code in (403, 404) or r.json()["items"] == []
    assert client.get(f"{API}/{logged['own'].pk}").status_code in (403, 404)
    page = client.get("/audit/log/")
    assert page.status_code in (302, 403, 404) or (world.own.zone.name not in page.content.decode())
    detail = client.get(f"/audit/log/{logged['own'].pk}/")
    assert detail.status_code in (302, 403, 404)


def test_the_log_cannot_be_written_or_deleted_through_the_api(world, logged):
    client = api_client(world.users[Role.POLICE_ADMIN])
    pk = logged["own"].pk
    assert send(client, "delete", f"{API}/{pk}").status_code in (404, 405)
    assert send(client, "patch", f"{API}/{pk}", {"reason": "x"}).status_code in (404, 405)
    assert send(client, "post", API, {"action": "create"}).status_code in (404, 405)
    assert entries(pk=pk).exists()


def test_police_admin_audit_page_lists_their_station_entries(world, logged):
    client = api_client(world.users[Role.POLICE_ADMIN])
    page = client.get("/audit/log/")
    assert page.status_code == 200
    text = page.content.decode()
    assert world.own.zone.name in text and world.neighbour.zone.name in text
    assert world.foreign.zone.name not in text
    detail = client.get(f"/audit/log/{logged['own'].pk}/")
    assert detail.status_code == 200


def test_the_log_filters_by_object(world, logged):
    client = api_client(world.users[Role.POLICE_ADMIN])
    r = client.get(API, {"object_type": "registry.zone", "object_id": str(world.own.zone.pk)})
    assert [e["id"] for e in r.json()["items"]] == [logged["own"].pk]
    r = client.get(API, {"actor": world.users[Role.ENTERPRISE_ADMIN].pk})
    assert [e["id"] for e in r.json()["items"]] == [logged["own"].pk]


def test_zone_reads_back_unchanged_after_refused_scope_move(world):
    """A refused update leaves the row as it was (the transaction rolls back)."""
    zone = world.own.zone
    with pytest.raises(actions.PermissionDenied):
        actions.update(world.users[Role.ENTERPRISE_ADMIN], zone, {"enterprise": None})
    assert Zone.objects.get(pk=zone.pk).enterprise_id == world.own.enterprise.pk
