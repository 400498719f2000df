"""The log's index by credential: kept by the processor, read up to its checkpoint, the
passages after the checkpoint found in the log."""

import datetime as dt
import importlib
import itertools
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from anyuan.core.roles import Role
from anyuan.events import credentials
from anyuan.events.models import Passage, PassageCredential, ProcessorCheckpoint
from anyuan.events.processor import DEFAULT_NAME, Processor

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
_seq = itertools.count(1)


def log(device, minutes, credential, method="card", direction="in"):
    at = T0 + dt.timedelta(minutes=minutes)
    return Passage.objects.create(
        device=device,
        zone=device.zone,
        device_event_id=f"PC-{next(_seq)}",
        event_time=at,
        received_time=at,
        direction=direction,
        method=method,
        credential=credential,
    )


def indexed() -> dict[int, tuple[str, dt.datetime]]:
    return {
        pk: (credential, event_time)
        for pk, credential, event_time in PassageCredential.objects.values_list(
            "passage_id", "credential", "event_time"
        )
    }


def found(*names, start=None, end=None) -> set[int]:
    return set(
        Passage.objects.filter(credentials.passages_q(names, start, end)).values_list(
            "pk", flat=True
        )
    )


@pytest.fixture
def passages(world):
    Passage.objects.all().delete()
    device = world.own.device
    return SimpleNamespace(
        a=log(device, 0, "CARD-A"),
        b=log(device, 5, "CARD-B"),
        unread=log(device, 6, "", method="plate"),  # an unreadable plate: nothing to index
        a2=log(device, 10, "CARD-A", direction="out"),
    )


def test_the_processor_indexes_each_batch_with_its_checkpoint(passages):
    p = passages
    processor = Processor(batch=2)
    processor.process_batch()
    assert indexed() == {p.a.pk: ("CARD-A", p.a.event_time), p.b.pk: ("CARD-B", p.b.event_time)}
    assert ProcessorCheckpoint.objects.get(name=DEFAULT_NAME).last_passage_id == p.b.pk
    processor.run_once()
    assert set(indexed()) == {p.a.pk, p.b.pk, p.a2.pk}  # not the empty credential
    # another processor (a replay, a test) keeps no index
    Passage.objects.create(**{**_fields(p.a), "device_event_id": "PC-other"})
    Processor(name="other").run_once()
    assert set(indexed()) == {p.a.pk, p.b.pk, p.a2.pk}


def _fields(passage) -> dict:
    names = ("device", "zone", "event_time", "received_time", "direction", "method")
    return {n: getattr(passage, n) for n in names} | {"credential": passage.credential}


def test_passages_up_to_the_checkpoint_are_read_by_the_index_the_rest_from_the_log(passages):
    p = passages
    assert found("CARD-A") == {p.a.pk, p.a2.pk}  # nothing processed: all from the log
    Processor().run_once()
    later = log(p.a.device, 20, "CARD-A")  # after the checkpoint
    assert found("CARD-A") == {p.a.pk, p.a2.pk, later.pk}
    assert found("CARD-A", "CARD-B") == {p.a.pk, p.a2.pk, p.b.pk, later.pk}
    assert found("CARD-A", start=p.a2.event_time) >= {p.a2.pk}
    assert p.a.pk not in found("CARD-A", start=p.a2.event_time)
    assert found("") == set() and found() == set()
    # below the checkpoint the log is not searched: a passage missing from the index is
    # not found (what shows the index is used)
    PassageCredential.objects.filter(passage_id=p.a.pk).delete()
    assert found("CARD-A") == {p.a2.pk, later.pk}
    # a checkpoint moved back by hand: indexing again adds nothing twice
    credentials.add(0, later.pk)
    assert PassageCredential.objects.count() == 4  # a, b, a2, later


def test_credential_search_and_trajectory_give_the_same_before_and_after_processing(
    world, passages
):
    p = passages
    person = world.own.person
    person.card_number = "CARD-A"
    person.save()
    client = Client()
    client.force_login(world.users[Role.POLICE_ADMIN])

    def search(**params):
        r = client.get("/api/v1/events/passages", {"credential": "CARD-A", **params})
        assert r.status_code == 200, r.content
        return {item["id"] for item in r.json()["items"]}

    def trajectory():
        hour = dt.timedelta(hours=1)
        window = {"from": (T0 - hour).isoformat(), "to": (T0 + hour).isoformat()}
        r = client.get(f"/api/v1/events/trajectory/person/{person.pk}", window)
        assert r.status_code == 200, r.content
        return [i["id"] for i in r.json()["items"] if i["kind"] == "passage"]

    before = (search(), trajectory())
    assert before == ({p.a.pk, p.a2.pk}, [p.a.pk, p.a2.pk])
    Processor().run_once()
    assert PassageCredential.objects.filter(passage_id__in=[p.a.pk, p.a2.pk]).count() == 2
    assert (search(), trajectory()) == before
    since = (T0 + dt.timedelta(minutes=1)).isoformat()
    assert search(since=since) == {p.a2.pk}
    assert search(credential="CARD-B") == {p.b.pk}
    assert search(credential="") == {p.unread.pk}  # an empty credential: from the log
    # what is found below the checkpoint is what the index holds
    PassageCredential.objects.filter(passage_id=p.a.pk).delete()
    assert search() == {p.a2.pk}
    assert trajectory() == [p.a2.pk]


def test_a_trajectory_finds_every_credential_of_its_subject_in_the_index(world, passages):
    """Face id, card, employee number and plate: each found by the index once processed,
    and only there (its entries removed, the passages are gone from the trajectory)."""
    own = world.own
    person, vehicle = own.person, own.vehicle
    person.face_id, person.card_number, person.employee_number = "FACE-A", "CARD-A", "E-A7"
    person.save()
    device = passages.a.device
    mine = {
        "face": log(device, 20, "FACE-A", method="face"),
        "number": log(device, 25, "E-A7", method="employee_number"),
        "card": passages.a,
    }
    plate = log(device, 30, vehicle.plate, method="plate")
    not_mine = log(device, 35, "FACE-A", method="card")  # the face id as a card: not hers
    Processor().run_once()
    assert {plate.pk, not_mine.pk, *(x.pk for x in mine.values())} <= set(indexed())
    client = Client()
    client.force_login(world.users[Role.POLICE_ADMIN])
    hour = dt.timedelta(hours=1)
    window = {"from": (T0 - hour).isoformat(), "to": (T0 + hour).isoformat()}

    def passages_of(kind, pk):
        r = client.get(f"/api/v1/events/trajectory/{kind}/{pk}", window)
        assert r.status_code == 200, r.content
        return {i["id"] for i in r.json()["items"] if i["kind"] == "passage"}

    expected = {x.pk for x in mine.values()} | {passages.a2.pk}
    assert passages_of("person", person.pk) == expected
    assert passages_of("vehicle", vehicle.pk) == {plate.pk}
    PassageCredential.objects.filter(passage_id__in=[mine["face"].pk, plate.pk]).delete()
    PassageCredential.objects.filter(passage_id=mine["number"].pk).delete()
    assert passages_of("person", person.pk) == {passages.a.pk, passages.a2.pk}
    assert passages_of("vehicle", vehicle.pk) == set()


def test_the_migration_copies_what_the_processor_has_processed(passages):
    p = passages
    ProcessorCheckpoint.objects.update_or_create(
        name=DEFAULT_NAME, defaults={"last_passage_id": p.b.pk}
    )
    migration = importlib.import_module("anyuan.events.migrations.0005_passage_credentials")
    migration.copy_processed(apps, SimpleNamespace(connection=connection))
    assert set(indexed()) == {p.a.pk, p.b.pk}  # up to the checkpoint, itself included


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plan")
def test_sqlite_looks_the_passages_up_by_id(passages):
    qs = Passage.objects.filter(
        credentials.passages_q(["CARD-A"], T0, T0 + dt.timedelta(days=1)),
        event_time__gte=T0,
        event_time__lt=T0 + dt.timedelta(days=1),
    ).order_by("event_time")
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = [row[-1] for row in cursor.fetchall()]
    # the log by id, the index by credential; not the log scanned by time
    assert "SEARCH events_passage USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    assert any("USING INDEX passagecredential_time (credential=?" in step for step in plan)
    assert not any("passage_time" in step or step.startswith("SCAN") for step in plan), plan
