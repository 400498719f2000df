"""Oracles on personal data, tried as an attacker would: recovering a masked phone by
searching its 10,000 candidates, learning that an ID number is registered with another
enterprise from the answer to a create or an import, and checking files over and over."""

import json

import pytest
from django.test import Client

from anyuan.core import actions
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.roles import Role
from anyuan.registry.importing import KINDS
from anyuan.registry.models import Person

LIMIT = 5


@pytest.fixture
def small_limits(settings):
    settings.ANYUAN_PERSONAL_SEARCH_LIMIT = (LIMIT, 600)
    settings.ANYUAN_IMPORT_CHECK_LIMIT = (3, 600)


def client_for(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def candidates(phone: str, n: int) -> list[str]:
    """What the masked form ``153****9332`` leaves to try, the real one last."""
    tried = [f"{phone[:3]}{i:04d}{phone[-4:]}" for i in range(n)]
    others = [t for t in tried if t != phone]
    return [*others[: n - 1], phone]


def test_an_exhaustive_phone_search_is_stopped_at_the_limit_and_audited(world, small_limits):
    target = world.own.person
    phone = target.phone.reveal()
    client = client_for(world.users[Role.ENTERPRISE_SECURITY])  # may not reveal
    answers = []
    for q in candidates(phone, LIMIT + 3):
        answers.append(client.get("/api/v1/registry/person", {"q": q}))
    assert [a.status_code for a in answers[:LIMIT]] == [200] * LIMIT
    assert [a.status_code for a in answers[LIMIT:]] == [429] * 3
    assert answers[-1]["Retry-After"] == "600"
    # the real number came after the limit: not found
    assert "items" not in answers[-1].json()

    # the pages share the count: a search there is refused too, without finding anything
    page = client.post("/registry/person/", {"q": phone})
    assert page.status_code == 429
    assert str(target.phone) not in page.content.decode()

    searches = AuditEntry.objects.filter(action=AuditAction.SEARCH)
    assert searches.count() == LIMIT
    for entry in searches:
        text = json.dumps([entry.object_repr, entry.after, entry.reason])
        assert entry.after["kinds"] == ["phone"] and "****" in entry.after["masked"]
        assert not any(c in text for c in candidates(phone, LIMIT + 3))  # never the value
        assert entry.actor == world.users[Role.ENTERPRISE_SECURITY]
        assert entry.enterprise_id == world.own.enterprise.pk


def test_a_user_who_may_reveal_is_not_stopped_but_every_search_is_audited(world, small_limits):
    target = world.own.person
    client = client_for(world.users[Role.POLICE_ADMIN])
    for _ in range(LIMIT + 2):
        r = client.get("/api/v1/registry/person", {"q": target.id_number.reveal()})
        assert r.status_code == 200
        assert [p["id"] for p in r.json()["items"]] == [target.pk]
    r = client.post("/registry/person/", {"q": target.phone.reveal()})
    assert r.status_code == 303 and target.phone.reveal() not in r["Location"]
    assert AuditEntry.objects.filter(action=AuditAction.SEARCH).count() == LIMIT + 3


def test_a_search_by_name_is_neither_counted_nor_audited(world, small_limits):
    client = client_for(world.users[Role.ENTERPRISE_SECURITY])
    for _ in range(LIMIT + 2):
        assert client.get("/api/v1/registry/person", {"q": "员工"}).status_code == 200
        assert client.get("/registry/person/", {"q": "员工"}).status_code == 200
    assert not AuditEntry.objects.filter(action=AuditAction.SEARCH).exists()


# --- a value already taken ------------------------------------------------------------------


def create_person(client, world, id_number):
    return client.post(
        "/api/v1/registry/person",
        json.dumps(
            {
                "station_id": world.home.station.pk,
                "enterprise_id": world.own.enterprise.pk,
                "name": "新员工",
                "id_number": id_number,
            }
        ),
        content_type="application/json",
    )


def test_a_duplicate_of_another_enterprises_worker_gets_the_neutral_message(world):
    client = client_for(world.users[Role.ENTERPRISE_ADMIN])
    before = Person.objects.count()
    theirs = create_person(client, world, world.neighbour.person.id_number.reveal())
    ours = create_person(client, world, world.own.colleague.id_number.reveal())
    for answer in (theirs, ours):
        assert answer.status_code == 422
        assert answer.json()["detail"] == [
            {"loc": ["body", "id_number"], "msg": actions.not_saved(), "type": "invalid"}
        ]
        text = answer.content.decode().lower()
        assert "unique" not in text and "constraint" not in text and "person_" not in text
    # the same answer whether the holder is in the actor's reach or not: no oracle
    assert theirs.content == ours.content
    assert Person.objects.count() == before

    page = client_for(world.users[Role.ENTERPRISE_ADMIN]).post(
        "/registry/person/add/",
        {
            "station": world.home.station.pk,
            "kind": "employee",
            "enterprise": world.own.enterprise.pk,
            "name": "新员工",
            "id_number": world.neighbour.person.id_number.reveal(),
        },
    )
    assert page.status_code in (200, 400)
    body = page.content.decode()
    assert actions.not_saved() in body
    assert "person_unique" not in body and "UNIQUE" not in body


def test_a_conflict_only_the_database_sees_gets_the_neutral_message_too(world):
    twin = Person(
        station=world.home.station,
        enterprise=world.own.enterprise,
        name="并发",
        id_number=world.neighbour.person.id_number.reveal(),
    )
    with pytest.raises(actions.ValidationFailed) as refused:
        actions._save(twin, {})  # as if another request had saved it a moment before
    assert refused.value.errors == {"id_number": [actions.not_saved()]}


# --- import checks --------------------------------------------------------------------------


def people_file(world, id_number: str) -> bytes:
    header = [c.name for c in KINDS["people"].columns]
    row = dict.fromkeys(header, "")
    row.update(
        station_code=world.home.station.code,
        enterprise_credit_code=world.own.enterprise.credit_code,
        kind="employee",
        name="新员工",
        id_number=id_number,
    )
    return (",".join(header) + "\n" + ",".join(row[h] for h in header) + "\n").encode()


def test_import_dry_runs_are_neutral_audited_and_limited(world, small_limits):
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin = world.users[Role.ENTERPRISE_ADMIN]
    client = client_for(admin)
    theirs = world.neighbour.person.id_number.reveal()

    def dry_run():
        upload = SimpleUploadedFile("people.csv", people_file(world, theirs), "text/csv")
        return client.post("/api/v1/registry/import/people", {"file": upload, "dry_run": "true"})

    answers = [dry_run() for _ in range(4)]
    assert [a.status_code for a in answers] == [422, 422, 422, 429]
    problems = answers[0].json()["problems"]
    assert [(p["line"], p["column"], p["message"]) for p in problems] == [
        (2, "id_number", actions.not_saved())
    ]
    assert "scope" not in answers[0].content.decode()
    entries = AuditEntry.objects.filter(action=AuditAction.IMPORT)
    assert entries.count() == 3
    for entry in entries:
        assert entry.actor == admin
        assert entry.after["dry_run"] is True and entry.after["written"] is False
        assert entry.after["problems"] == 1
        assert theirs not in json.dumps(entry.after)
    assert not Person.objects.filter(name="新员工").exists()


def test_an_export_narrowed_by_an_exact_phone_is_an_audited_search(world, small_limits):
    target = world.own.person
    client = client_for(world.users[Role.ENTERPRISE_ADMIN])
    r = client.get("/registry/person/export/", {"q": target.phone.reveal(), "format": "csv"})
    assert r.status_code == 200
    body = b"".join(r.streaming_content).decode("utf-8-sig")
    assert len(body.strip().splitlines()) == 2  # the header and the one person
    (entry,) = AuditEntry.objects.filter(action=AuditAction.SEARCH)
    assert entry.after["kinds"] == ["phone"] and entry.object_type == "registry.person"
