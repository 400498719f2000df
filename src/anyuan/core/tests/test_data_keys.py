"""The personal-data keys, as an attacker with the database would try them: a ciphertext
copied into another row, column or table no longer decrypts (and pages show it as
unreadable, never a 500); several keys, the newest encrypting; ``anyuan rotate-keys``
re-encrypts everything, batched, resumable and idempotent, audited once; the old format
is rewritten; files under var/ are the owner's alone."""

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import translation

from anyuan.core import keyrotation, personal
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.personal import Sealed, Unreadable
from anyuan.core.roles import Role
from anyuan.core.testing import make_id_number, make_phone
from anyuan.registry.models import Informant, Person, Station, WatchlistEntry

OLD = base64.urlsafe_b64encode(b"o" * 32).decode()
NEW = base64.urlsafe_b64encode(b"n" * 32).decode()


@pytest.fixture
def ring(monkeypatch):
    """Set the configured keys (``ring("new,old")``); the cache is cleared around."""

    def use(value: str):
        monkeypatch.setenv("ANYUAN_DATA_KEY", value)
        personal._keys.cache_clear()
        return personal._keys()

    yield use
    personal._keys.cache_clear()


def raw(model, pk, *columns):
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(qn(c) for c in columns)} FROM {qn(model._meta.db_table)} "  # noqa: S608
            f"WHERE {qn('id')} = %s",
            [pk],
        )
        return cursor.fetchone()


def set_raw(model, pk, **values):
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(c)} = %s" for c in values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(model._meta.db_table)} SET {sets} WHERE {qn('id')} = %s",  # noqa: S608
            [*values.values(), pk],
        )


def people(station, n, start=0):
    return [
        Person.objects.create(
            station=station,
            kind="visitor",
            name=f"访客{i}",
            id_number=make_id_number(500 + i),
            phone=make_phone(500 + i),
        )
        for i in range(start, start + n)
    ]


# --- bound to table, column and row ---------------------------------------------------------


def test_a_ciphertext_moved_to_another_row_no_longer_decrypts(world):
    victim, mine = world.neighbour.person, world.own.person
    (stolen,) = raw(Person, victim.pk, "id_number")
    set_raw(Person, mine.pk, id_number=stolen)  # the attacker writes it into a row they see

    moved = Person.objects.get(pk=mine.pk)
    assert isinstance(moved.id_number, Sealed) and not moved.id_number.readable
    with pytest.raises(Unreadable):
        moved.id_number.reveal()
    with translation.override("en"):
        assert str(moved.id_number) == "(unreadable)"
    assert str(moved.id_number) == "（无法读取）"  # zh-Hans, the default
    assert personal.mask("id_number", victim.id_number.reveal()) not in str(moved.id_number)

    # the pages and the API show it as unreadable: no 500, no value of the other row
    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.ENTERPRISE_ADMIN])
    victim_masked = str(victim.id_number)
    for url in (f"/registry/person/{mine.pk}/", "/registry/person/"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert victim_masked not in page.content.decode()
    detail = client.get(f"/api/v1/registry/person/{mine.pk}")
    assert detail.status_code == 200 and detail.json()["id_number"] == "（无法读取）"
    reveal = client.post(
        f"/api/v1/registry/person/{mine.pk}/reveal",
        json.dumps({"field": "id_number", "reason": "核对身份"}),
        content_type="application/json",
    )
    assert reveal.status_code == 422
    assert reveal.json()["detail"][0]["loc"] == ["body", "id_number"]
    assert victim.id_number.reveal() not in reveal.content.decode()
    assert not AuditEntry.objects.filter(action=AuditAction.REVEAL).exists()

    # saving the row otherwise keeps what is stored (its digest too): nothing is lost
    digest_before = raw(Person, mine.pk, "id_number_digest")
    moved.name = "改名"
    moved.save()
    assert raw(Person, mine.pk, "id_number", "id_number_digest") == (stolen, *digest_before)


def test_moving_between_columns_or_tables_does_not_decrypt_either(world):
    person = world.own.person
    id_col, phone_col, row_key = raw(Person, person.pk, "id_number", "phone", "row_key")
    set_raw(Person, person.pk, phone=id_col, id_number=phone_col)
    swapped = Person.objects.get(pk=person.pk)
    assert not swapped.id_number.readable and not swapped.phone.readable

    watch = world.home.police_watch
    set_raw(WatchlistEntry, watch.pk, id_number=id_col, row_key=row_key)  # even with its key
    assert not WatchlistEntry.objects.get(pk=watch.pk).id_number.readable


def test_values_and_related_paths_read_each_row_with_its_own_key(world):
    person = world.own.colleague
    number = person.id_number.reveal()
    (value,) = Person.objects.filter(pk=person.pk).values_list("id_number", flat=True)
    assert value.reveal() == number
    (through,) = Informant.objects.filter(person=person).values_list("person__id_number", flat=True)
    assert through.reveal() == number
    loaded = Informant.objects.select_related("person").get(person=person)
    assert loaded.person.id_number.reveal() == number


def test_a_value_given_to_another_row_is_encrypted_for_that_row(world):
    source, target = world.own.person, world.own.colleague
    target.phone = source.phone  # the Sealed of another row
    target.save()
    assert raw(Person, target.pk, "phone") != raw(Person, source.pk, "phone")
    assert Person.objects.get(pk=target.pk).phone.reveal() == source.phone.reveal()


def test_personal_data_cannot_be_written_without_its_row(db):
    with pytest.raises(ValueError, match="bind"):
        Person.objects.filter(pk=1).update(phone=make_phone(1))


# --- keys, rotation --------------------------------------------------------------------------


def test_the_newest_key_encrypts_and_every_configured_key_decrypts(db, ring):
    old = ring(OLD)
    station = Station.objects.create(name="所", code="K1")
    (before,) = people(station, 1)
    (token,) = raw(Person, before.pk, "id_number")
    assert token.startswith(f"v2:{old.newest}:")

    new = ring(f"{NEW}\n{OLD}")  # newest first
    assert new.newest != old.newest and set(new.aeads) == {new.newest, old.newest}
    (after,) = people(station, 1, start=1)
    assert raw(Person, after.pk, "id_number")[0].startswith(f"v2:{new.newest}:")
    assert Person.objects.get(pk=before.pk).id_number.reveal() == make_id_number(500)
    # the look-up key does not rotate: digests made before find the rows now
    assert new.lookup == old.lookup
    assert Person.objects.filter(id_number_digest=personal.digest("id_number", make_id_number(500)))

    ring(NEW)  # the old key gone before a rotation: the old values are unreadable
    assert not Person.objects.get(pk=before.pk).id_number.readable


def test_rotate_keys_round_trip(db, ring, capsys):
    ring(OLD)
    station = Station.objects.create(name="所", code="K2")
    rows = people(station, 5)
    watch = WatchlistEntry.objects.create(
        station=station, kind="person", id_number=make_id_number(900), reason="在逃"
    )
    new = ring(f"{NEW},{OLD}")

    call_command("rotate-keys", batch=2)
    out = capsys.readouterr().out  # progress per batch of 2 rows
    assert "registry.person: 2/5" in out and "registry.person: 5/5" in out
    for p in rows:
        for column in ("id_number", "phone"):
            assert raw(Person, p.pk, column)[0].startswith(f"v2:{new.newest}:")
    (entry,) = AuditEntry.objects.filter(action=AuditAction.ROTATE_KEYS)  # once per run
    assert entry.after["key"] == new.newest and entry.after["rewritten"] == 11
    assert entry.after["unreadable"] == 0
    assert entry.after["models"]["registry.person"]["rewritten"] == 10

    call_command("rotate-keys", lookup_line=True)
    line = capsys.readouterr().out.strip()
    assert line.startswith("lookup:")
    ring(f"{NEW}\n{line}")  # the old key can go now; its look-up key stays
    for i, p in enumerate(rows):
        fresh = Person.objects.get(pk=p.pk)
        assert fresh.id_number.reveal() == make_id_number(500 + i)
        assert fresh.phone.reveal() == make_phone(500 + i)
    assert WatchlistEntry.objects.get(pk=watch.pk).id_number.reveal() == make_id_number(900)
    found = Person.objects.get(phone_digest=personal.digest("phone", make_phone(502)))
    assert found.pk == rows[2].pk

    before = [raw(Person, p.pk, "id_number", "phone") for p in rows]
    call_command("rotate-keys")  # idempotent: nothing left to rewrite
    assert [raw(Person, p.pk, "id_number", "phone") for p in rows] == before
    last = AuditEntry.objects.filter(action=AuditAction.ROTATE_KEYS).order_by("-id")[0]
    assert last.after["rewritten"] == 0 and last.pk != entry.pk


def test_an_interrupted_rotation_is_finished_by_running_it_again(db, ring):
    ring(OLD)
    station = Station.objects.create(name="所", code="K3")
    rows = people(station, 4)
    new = ring(f"{NEW},{OLD}")

    class Stop(Exception):
        pass

    def stop(outcome, total):
        raise Stop

    with pytest.raises(Stop):
        keyrotation.rewrite(Person, batch=2, on_batch=stop)  # dies after its first batch
    heads = [raw(Person, p.pk, "phone")[0][:11] for p in rows]
    assert heads == [f"v2:{new.newest}"] * 2 + [f"v2:{personal.key_id(b'o' * 32)}"] * 2

    again = keyrotation.rewrite(Person, batch=2)
    assert again.rewritten == 4  # only the two rows left, two values each
    assert all(raw(Person, p.pk, "phone")[0].startswith(f"v2:{new.newest}:") for p in rows)


def test_rotation_leaves_an_unreadable_value_as_it_is_and_says_so(world, capsys):
    victim, mine = world.neighbour.person, world.own.person
    (stolen,) = raw(Person, victim.pk, "id_number")
    set_raw(Person, mine.pk, id_number=stolen)
    with pytest.raises(CommandError):
        call_command("rotate-keys")
    assert f"registry.person {mine.pk} id_number:" in capsys.readouterr().err
    assert raw(Person, mine.pk, "id_number") == (stolen,)
    (entry,) = AuditEntry.objects.filter(action=AuditAction.ROTATE_KEYS)
    assert entry.after["unreadable"] == 1


def old_format(plaintext: str, master: bytes) -> str:
    """A value as written before the binding: ``v1:``, no key id, no associated data."""
    key = personal._derive(master, b"anyuan personal data encryption v1")
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def test_values_in_the_old_format_are_rewritten_bound_to_their_row(db, ring):
    ring(OLD)
    station = Station.objects.create(name="所", code="K4")
    a, b = people(station, 2)
    legacy = old_format(make_id_number(777), b"o" * 32)
    set_raw(Person, a.pk, id_number=legacy)
    set_raw(Person, b.pk, id_number=legacy)  # an unbound value fits any row: not read any more
    assert not Person.objects.get(pk=a.pk).id_number.readable

    # what the migration that brought the row keys does: a key per row, values rebound
    keys_before = {raw(Person, p.pk, "row_key")[0] for p in (a, b)}
    keyrotation.rewrite(Person, fresh_row_keys=True)
    keys_after = {raw(Person, p.pk, "row_key")[0] for p in (a, b)}
    assert not keys_before & keys_after and len(keys_after) == 2
    for p in (a, b):
        fresh = Person.objects.get(pk=p.pk)
        assert fresh.id_number.reveal() == make_id_number(777)
        assert fresh.phone.reveal() == make_phone(500 + (p.pk != a.pk))
    assert raw(Person, a.pk, "id_number") != raw(Person, b.pk, "id_number")


def test_the_key_ring_is_read_from_a_key_file_and_a_configured_file_must_exist(
    settings, monkeypatch, tmp_path, ring
):
    monkeypatch.delenv("ANYUAN_DATA_KEY", raising=False)
    path = tmp_path / "keys" / "data.key"
    settings.ANYUAN_DATA_KEY_FILE = path
    settings.ANYUAN_DATA_KEY_FILE_REQUIRED = True
    personal._keys.cache_clear()
    with pytest.raises(RuntimeError, match="does not exist"):
        personal.encrypt("x")
    assert not path.exists()  # never made up: a new key would make the data unreadable

    path.parent.mkdir()
    path.write_text(f"# newest first\n{NEW}\n{OLD}  # since 2026\n")
    personal._keys.cache_clear()
    keys = personal._keys()
    assert keys.newest == personal.key_id(b"n" * 32) and len(keys.aeads) == 2

    path.write_text(f"{NEW}\n{NEW}\n")
    personal._keys.cache_clear()
    with pytest.raises(RuntimeError, match="twice"):
        personal._keys()


# --- files ------------------------------------------------------------------------------------

REPORT = """
import json, os, stat
from pathlib import Path
from django.conf import settings
from django.db import connection
from anyuan.core import personal
with connection.cursor() as c:
    c.execute("CREATE TABLE t (x integer)")
    c.execute("INSERT INTO t VALUES (1)")
personal.encrypt("x")
(settings.VAR_DIR / "made-here.txt").write_text("x")
db = str(settings.DATABASES["default"]["NAME"])
paths = [db, db + "-wal", db + "-shm", str(settings.ANYUAN_DATA_KEY_FILE),
         str(settings.ANYUAN_DATA_KEY_FILE.parent), str(settings.VAR_DIR),
         str(settings.VAR_DIR / "secret" / "django.key"), str(settings.VAR_DIR / "made-here.txt")]
print(json.dumps({p: oct(stat.S_IMODE(os.stat(p).st_mode)) for p in paths if os.path.exists(p)}))
"""


def test_files_under_var_are_the_owners_alone(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    (var / "anyuan.sqlite3").touch()
    (var / "anyuan.sqlite3").chmod(0o644)  # made before: world-readable
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYUAN_", "DATABASE_"))}
    src = str(Path(__file__).resolve().parents[3])
    env.update(
        ANYUAN_HOME=str(tmp_path),
        ANYUAN_VAR=str(var),
        PYTHONPATH=os.pathsep.join([src, env.get("PYTHONPATH", "")]),
        DJANGO_SETTINGS_MODULE="anyuan.settings",
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-m", "anyuan.cli", "shell", "-c", REPORT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modes = json.loads(done.stdout.strip().splitlines()[-1])
    db = str(var / "anyuan.sqlite3")
    assert modes[db] == "0o600"
    assert modes[db + "-wal"] == "0o600"
    assert modes[db + "-shm"] == "0o600"
    assert modes[str(var)] == "0o700"
    assert modes[str(var / "secret")] == "0o700"
    for name in ("secret/data.key", "secret/django.key", "made-here.txt"):
        assert modes[str(var / name)] == "0o600", name
    assert stat.S_IMODE((var / "anyuan.sqlite3").stat().st_mode) == 0o600
