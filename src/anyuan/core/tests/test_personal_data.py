"""Personal data: ID numbers and phone numbers are encrypted at rest, found by keyed hash,
shown masked on pages and in the API, and revealed only with a permission and a reason,
each look written to the audit log."""

import base64
import json
import os
import stat

import pytest
from django.core.exceptions import FieldError
from django.db import connection
from django.test import Client

from anyuan.core import personal
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.personal import Sealed, Unreadable, decrypt, digest, encrypt, mask
from anyuan.core.roles import Role
from anyuan.core.secrets import secret_from_env_or_file
from anyuan.core.testing import make_id_number
from anyuan.registry.models import Person, WatchlistEntry

ID_NUMBER = "33020619900119123X"  # check digit X: lower-case input must also work
PHONE = "13987654321"


def api_client(user, **kw):
    client = Client(raise_request_exception=False, **kw)
    client.force_login(user)
    return client


def raw_row(table, pk, *columns):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()


@pytest.fixture
def person(world):
    assert personal.normalize("id_number", ID_NUMBER) == ID_NUMBER
    return Person.objects.create(
        station=world.home.station,
        enterprise=world.own.enterprise,
        name="张三",
        id_number=ID_NUMBER,
        phone=PHONE,
    )


@pytest.fixture
def fresh_keys():
    """Forget the cached keys before and after, so a test may change where they come from."""
    personal._keys.cache_clear()
    yield
    personal._keys.cache_clear()


# --- at rest ---------------------------------------------------------------------------


def test_the_database_holds_ciphertext_not_the_value(person):
    id_col, phone_col, id_digest, row_key = raw_row(
        Person._meta.db_table, person.pk, "id_number", "phone", "id_number_digest", "row_key"
    )
    for name, column, value in (("id_number", id_col, ID_NUMBER), ("phone", phone_col, PHONE)):
        assert column.startswith(f"v2:{personal._keys().newest}:")
        assert value not in column
        assert value[6:14] not in column  # not even the date of birth
        ad = personal.associated_data(Person._meta.db_table, name, row_key)
        assert decrypt(column, ad) == value
    assert ID_NUMBER not in id_digest and len(id_digest) == 64


def test_no_column_of_the_row_holds_the_plaintext(person):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Person._meta.db_table} WHERE id = %s", [person.pk])  # noqa: S608
        row = cursor.fetchone()
    text = " ".join(str(v) for v in row)
    assert ID_NUMBER not in text
    assert PHONE not in text


def test_encrypting_the_same_value_twice_gives_different_ciphertexts():
    a, b = encrypt(ID_NUMBER), encrypt(ID_NUMBER)
    assert a != b
    assert decrypt(a) == decrypt(b) == ID_NUMBER


def test_tampered_ciphertext_is_refused():
    token = encrypt(ID_NUMBER)
    head = token[: len("v2:12345678:")]
    raw = bytearray(base64.b64decode(token[len(head) :]))
    raw[-1] ^= 1
    with pytest.raises(Unreadable):
        decrypt(head + base64.b64encode(bytes(raw)).decode())


def test_two_rows_with_the_same_id_number_store_different_ciphertexts(world, person):
    other = WatchlistEntry.objects.create(
        station=world.home.station, kind="person", id_number=ID_NUMBER, reason="test"
    )
    (person_col,) = raw_row(Person._meta.db_table, person.pk, "id_number")
    (watch_col,) = raw_row(WatchlistEntry._meta.db_table, other.pk, "id_number")
    assert person_col != watch_col
    assert other.id_number_digest == person.id_number_digest


def test_values_are_normalised_before_encryption(world):
    p = Person.objects.create(
        station=world.home.station,
        enterprise=world.own.enterprise,
        name="李四",
        id_number=ID_NUMBER.lower(),
        phone="+86 139 8765 4321",
    )
    p.refresh_from_db()
    assert p.id_number.reveal() == ID_NUMBER
    assert p.phone.reveal() == PHONE


# --- look-ups --------------------------------------------------------------------------


def test_an_exact_value_is_found_through_its_keyed_hash(person):
    found = Person.objects.filter(id_number_digest=digest("id_number", ID_NUMBER))
    assert list(found) == [person]
    assert list(Person.objects.filter(phone_digest=digest("phone", PHONE))) == [person]
    assert personal.digest_or_none("id_number", ID_NUMBER.lower()) == person.id_number_digest
    assert personal.digest_or_none("id_number", "not a number") is None


def test_the_digest_is_keyed_not_a_plain_hash(person):
    import hashlib

    assert person.id_number_digest != hashlib.sha256(ID_NUMBER.encode()).hexdigest()
    assert person.id_number_digest != hashlib.sha256(f"id_number:{ID_NUMBER}".encode()).hexdigest()


def test_the_digest_follows_a_changed_value(person):
    new = make_id_number(7)
    person.id_number = new
    person.save()
    person.refresh_from_db()
    assert person.id_number_digest == digest("id_number", new)
    assert not Person.objects.filter(id_number_digest=digest("id_number", ID_NUMBER)).exists()


def test_querying_the_encrypted_column_itself_is_refused(person):
    with pytest.raises(FieldError):
        list(Person.objects.filter(id_number=ID_NUMBER))
    with pytest.raises(FieldError):
        list(Person.objects.filter(phone__icontains="1398"))
    assert Person.objects.filter(pk=person.pk, id_number__isnull=False).exists()


def test_api_search_finds_by_exact_id_number_and_phone(world, person):
    client = api_client(world.users[Role.POLICE_OFFICER])
    for q in (ID_NUMBER, ID_NUMBER.lower(), PHONE):
        r = client.get("/api/v1/registry/person", {"q": q})
        assert r.status_code == 200
        assert [p["id"] for p in r.json()["items"]] == [person.pk]
    # a part of the number finds nothing: there is no substring search on personal data
    r = client.get("/api/v1/registry/person", {"q": ID_NUMBER[:10]})
    assert r.json()["items"] == []


# --- the key ---------------------------------------------------------------------------


def test_the_embedded_default_creates_a_key_file_readable_only_by_its_owner(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("ANYUAN_TEST_KEY", raising=False)
    path = tmp_path / "secret" / "data.key"
    key = secret_from_env_or_file("ANYUAN_TEST_KEY", path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert path.read_text().strip() == key
    err = capsys.readouterr().err
    assert str(path) in err and "0600" in err and "ANYUAN_TEST_KEY" in err

    # the second time the same key is read back, silently
    assert secret_from_env_or_file("ANYUAN_TEST_KEY", path) == key
    assert capsys.readouterr().err == ""


def test_the_key_file_is_0600_whatever_the_umask(tmp_path, monkeypatch):
    monkeypatch.delenv("ANYUAN_TEST_KEY", raising=False)
    old = os.umask(0)
    try:
        path = tmp_path / "k" / "data.key"
        secret_from_env_or_file("ANYUAN_TEST_KEY", path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_process_that_loses_the_race_uses_the_winner_s_key(tmp_path, monkeypatch, capsys):
    """Between our look and our write another process created the file: we take its key."""
    monkeypatch.delenv("ANYUAN_TEST_KEY", raising=False)
    path = tmp_path / "secret" / "data.key"
    winner = secret_from_env_or_file("ANYUAN_TEST_KEY", path)
    capsys.readouterr()
    real_exists = type(path).exists
    monkeypatch.setattr(
        type(path), "exists", lambda self: False if self == path else real_exists(self)
    )
    assert secret_from_env_or_file("ANYUAN_TEST_KEY", path) == winner
    assert path.read_text().strip() == winner
    assert capsys.readouterr().err == ""  # nothing created, nothing announced
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.key"]  # no temp left


def test_many_threads_starting_at_once_share_one_key(tmp_path, monkeypatch):
    import threading

    monkeypatch.delenv("ANYUAN_TEST_KEY", raising=False)
    path = tmp_path / "secret" / "data.key"
    barrier = threading.Barrier(12)
    keys = []

    def start():
        barrier.wait()
        keys.append(secret_from_env_or_file("ANYUAN_TEST_KEY", path))

    threads = [threading.Thread(target=start) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 12 and len(set(keys)) == 1
    assert path.read_text().strip() == keys[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_key_from_the_environment_wins_and_no_file_is_made(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANYUAN_TEST_KEY", "from-the-environment")
    path = tmp_path / "secret" / "data.key"
    assert secret_from_env_or_file("ANYUAN_TEST_KEY", path) == "from-the-environment"
    assert not path.exists()
    assert capsys.readouterr().err == ""


def test_anyuan_data_key_from_the_environment_is_the_key_used(
    monkeypatch, settings, tmp_path, fresh_keys
):
    settings.ANYUAN_DATA_KEY_FILE = tmp_path / "unused.key"
    env_key = base64.urlsafe_b64encode(b"k" * 32).decode()
    monkeypatch.setenv("ANYUAN_DATA_KEY", env_key)
    token = encrypt(ID_NUMBER)
    digest_env = digest("id_number", ID_NUMBER)
    assert decrypt(token) == ID_NUMBER
    assert not settings.ANYUAN_DATA_KEY_FILE.exists()

    # another key cannot read it, and hashes differently
    personal._keys.cache_clear()
    monkeypatch.setenv("ANYUAN_DATA_KEY", base64.urlsafe_b64encode(b"j" * 32).decode())
    with pytest.raises(Unreadable):
        decrypt(token)
    assert digest("id_number", ID_NUMBER) != digest_env


def test_without_anyuan_data_key_the_key_file_is_used(monkeypatch, settings, tmp_path, fresh_keys):
    monkeypatch.delenv("ANYUAN_DATA_KEY", raising=False)
    settings.ANYUAN_DATA_KEY_FILE = tmp_path / "secret" / "data.key"
    token = encrypt(PHONE)
    assert settings.ANYUAN_DATA_KEY_FILE.exists()
    assert stat.S_IMODE(settings.ANYUAN_DATA_KEY_FILE.stat().st_mode) == 0o600
    # the same file gives the same key after a restart
    personal._keys.cache_clear()
    assert decrypt(token) == PHONE


def test_a_short_key_is_refused(monkeypatch, fresh_keys):
    monkeypatch.setenv("ANYUAN_DATA_KEY", base64.urlsafe_b64encode(b"short").decode())
    with pytest.raises(RuntimeError, match="32 bytes"):
        encrypt(PHONE)


# --- masked everywhere -----------------------------------------------------------------


def test_masking():
    assert mask("id_number", "33020619900119123X") == "*****************X"
    assert mask("phone", "13987654321") == "139****4321"
    assert mask("phone", "0571-87654321") == "057********21"
    assert mask("phone", "110") == "***"
    assert mask("id_number", "") == ""


def test_a_sealed_value_prints_masked(person):
    person.refresh_from_db()
    assert isinstance(person.id_number, Sealed)
    assert str(person.id_number) == "*****************X"
    assert f"{person.phone}" == "139****4321"
    assert ID_NUMBER not in repr(person.id_number)
    assert person.id_number == ID_NUMBER  # comparison still works
    assert person.id_number.reveal() == ID_NUMBER


def test_the_api_shows_personal_data_masked(world, person):
    client = api_client(world.users[Role.POLICE_ADMIN])
    r = client.get(f"/api/v1/registry/person/{person.pk}")
    assert r.status_code == 200
    body = r.json()
    assert body["id_number"] == "*****************X"
    assert body["phone"] == "139****4321"
    listing = client.get("/api/v1/registry/person", {"limit": 1000}).content.decode()
    assert "*****************X" in listing
    assert ID_NUMBER not in listing and PHONE not in listing
    # every person of the world: none of their numbers appear in clear
    for p in Person.objects.all():
        if p.id_number:
            assert p.id_number.reveal() not in listing


@pytest.mark.parametrize(
    "role",
    [Role.POLICE_ADMIN, Role.POLICE_OFFICER, Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_SECURITY],
)
def test_the_date_of_birth_is_masked_like_the_number(world, person, role):
    """The ID number's digits 7–14 are the date of birth: shown beside the masked number
    they give the whole number back. Every role reads it masked; the reveal gives it."""
    person.full_clean()
    person.save()
    born = "1990-01-19"
    assert person.birth_date.isoformat() == born
    client = api_client(world.users[role])
    one = client.get(f"/api/v1/registry/person/{person.pk}").json()
    assert (one["id_number"], one["birth_date"]) == ("*****************X", "****-**-**")
    for url in (
        "/api/v1/registry/person?limit=1000",
        f"/registry/person/{person.pk}/",
        "/registry/person/",
        "/registry/person/?sort=birth_date",
    ):
        text = client.get(url).content.decode()
        assert born not in text and "19900119" not in text, url
        assert ID_NUMBER not in text, url


def test_create_and_update_answer_masked(world):
    client = api_client(world.users[Role.POLICE_ADMIN])
    r = client.post(
        "/api/v1/registry/person",
        json.dumps(
            {
                "station_id": world.home.station.pk,
                "enterprise_id": world.own.enterprise.pk,
                "name": "王五",
                "id_number": ID_NUMBER.lower(),
                "phone": PHONE,
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert ID_NUMBER not in r.content.decode() and PHONE not in r.content.decode()
    assert r.json()["id_number"] == "*****************X"
    pk = r.json()["id"]
    r = client.patch(
        f"/api/v1/registry/person/{pk}",
        json.dumps({"phone": "13911112222"}),
        content_type="application/json",
    )
    assert r.status_code == 200
    assert r.json()["phone"] == "139****2222"
    assert "13911112222" not in r.content.decode()


def test_pages_show_personal_data_masked(world, person):
    client = api_client(world.users[Role.POLICE_ADMIN])
    for url in (
        f"/registry/person/{person.pk}/",
        "/registry/person/",
        f"/registry/person/?q={ID_NUMBER}",
    ):
        r = client.get(url, follow=True)
        assert r.status_code == 200, url
        assert all(ID_NUMBER not in u for u, _ in r.redirect_chain)
        page = r.content.decode()
        assert "*****************X" in page, url
        assert ID_NUMBER not in page and PHONE not in page, url


def test_the_edit_form_does_not_prefill_personal_data(world, person):
    client = api_client(world.users[Role.POLICE_ADMIN])
    r = client.get(f"/registry/person/{person.pk}/edit/")
    assert r.status_code == 200
    page = r.content.decode()
    assert ID_NUMBER not in page and PHONE not in page


def test_an_invalid_id_number_is_refused_by_the_api(world):
    client = api_client(world.users[Role.POLICE_ADMIN])
    before = Person.objects.count()
    r = client.post(
        "/api/v1/registry/person",
        json.dumps(
            {
                "station_id": world.home.station.pk,
                "enterprise_id": world.own.enterprise.pk,
                "name": "错号",
                "id_number": ID_NUMBER[:-1] + "1",
            }
        ),
        content_type="application/json",
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "id_number"]
    assert Person.objects.count() == before


# --- reveal ----------------------------------------------------------------------------


def reveal_url(person):
    return f"/api/v1/registry/person/{person.pk}/reveal"


def post_reveal(client, person, **body):
    return client.post(reveal_url(person), json.dumps(body), content_type="application/json")


def reveals():
    return AuditEntry.objects.filter(action=AuditAction.REVEAL)


@pytest.mark.parametrize("role", [Role.POLICE_ADMIN, Role.POLICE_OFFICER, Role.ENTERPRISE_ADMIN])
def test_reveal_with_a_reason_gives_the_value_and_is_audited(world, person, role):
    user = world.users[role]
    client = api_client(user)
    r = post_reveal(client, person, field="id_number", reason="核对身份 (check identity)")
    assert r.status_code == 200, r.content
    assert r.json() == {"field": "id_number", "value": ID_NUMBER}
    entry = reveals().get()
    assert entry.actor == user
    assert entry.reason == "核对身份 (check identity)"
    assert entry.object_type == "registry.person"
    assert entry.object_id == str(person.pk)
    assert entry.after == {"field": "id_number"}
    assert entry.station_id == world.home.station.pk
    assert entry.remote_addr == "127.0.0.1"
    assert ID_NUMBER not in json.dumps([entry.before, entry.after, entry.object_repr])


def test_each_look_is_a_new_audit_entry(world, person):
    client = api_client(world.users[Role.POLICE_ADMIN])
    for field in ("id_number", "phone", "phone"):
        assert post_reveal(client, person, field=field, reason="排查 check").status_code == 200
    assert reveals().count() == 3


@pytest.mark.parametrize("body", [{"field": "id_number"}, {"field": "id_number", "reason": ""}])
def test_reveal_without_a_reason_is_refused_and_not_audited(world, person, body):
    client = api_client(world.users[Role.POLICE_ADMIN])
    r = post_reveal(client, person, **body)
    assert r.status_code == 422
    assert any("reason" in d["loc"] for d in r.json()["detail"])
    assert "value" not in r.json()
    assert ID_NUMBER not in r.content.decode()
    assert not reveals().exists()


@pytest.mark.parametrize("reason", ["   ", "why", " ab "])
def test_reveal_with_too_short_a_reason_is_refused(world, person, reason):
    client = api_client(world.users[Role.POLICE_ADMIN])
    r = post_reveal(client, person, field="phone", reason=reason)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "reason"]
    assert not reveals().exists()


def test_reveal_with_a_reason_longer_than_the_audit_log_keeps_is_refused(world, person):
    """The reason is bounded like its storage (``REASON_MAX_LENGTH``): a 422 on the field,
    nothing revealed, nothing audited; the longest allowed reason is kept whole."""
    from anyuan.core.models import REASON_MAX_LENGTH

    client = api_client(world.users[Role.POLICE_ADMIN])
    r = post_reveal(client, person, field="phone", reason="核" * (REASON_MAX_LENGTH + 1))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "reason"
    assert "value" not in r.json()
    assert not reveals().exists()
    r = post_reveal(client, person, field="phone", reason="核" * REASON_MAX_LENGTH)
    assert r.status_code == 200
    assert reveals().get().reason == "核" * REASON_MAX_LENGTH


def test_reveal_page_refuses_too_long_a_reason_with_its_own_message(world, person):
    from anyuan.core.models import REASON_MAX_LENGTH

    client = api_client(world.users[Role.POLICE_OFFICER])
    url = f"/registry/person/{person.pk}/reveal/"
    r = client.post(url, {"field": "id_number", "reason": "x" * (REASON_MAX_LENGTH + 1)})
    assert r.status_code == 400
    assert ID_NUMBER not in r.content.decode()
    assert str(REASON_MAX_LENGTH) in r.content.decode()
    assert not reveals().exists()


@pytest.mark.parametrize("field", ["name", "id_number_digest", "password", "nonexistent"])
def test_reveal_of_a_field_that_is_not_personal_data_is_refused(world, person, field):
    client = api_client(world.users[Role.POLICE_ADMIN])
    r = post_reveal(client, person, field=field, reason="just looking")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "field"]
    assert not reveals().exists()


@pytest.mark.parametrize("role", [Role.ENTERPRISE_SECURITY, Role.EMPLOYEE, Role.INFORMANT])
def test_roles_without_the_reveal_permission_are_refused(world, role):
    client = api_client(world.users[role])
    target = world.own.person  # the employee's own record, and in the others' enterprise
    r = post_reveal(client, target, field="id_number", reason="I want to know")
    assert r.status_code in (403, 404)
    assert personal.plain(target.id_number) not in r.content.decode()
    assert not reveals().exists()


@pytest.mark.parametrize(
    ("role", "target"),
    [
        (Role.POLICE_ADMIN, lambda w: w.foreign.person),
        (Role.ENTERPRISE_ADMIN, lambda w: w.neighbour.person),
        (Role.ENTERPRISE_ADMIN, lambda w: w.home.police_watch),
    ],
)
def test_reveal_outside_ones_scope_is_refused(world, role, target):
    obj = target(world)
    client = api_client(world.users[role])
    kind = obj._meta.model_name
    r = client.post(
        f"/api/v1/registry/{kind}/{obj.pk}/reveal",
        json.dumps({"field": "id_number", "reason": "curious about it"}),
        content_type="application/json",
    )
    assert r.status_code in (403, 404)
    assert personal.plain(obj.id_number) not in r.content.decode()
    assert not reveals().exists()


def test_reveal_page_asks_for_a_reason_then_shows_and_audits(world, person):
    client = api_client(world.users[Role.POLICE_OFFICER])
    url = f"/registry/person/{person.pk}/reveal/"
    r = client.get(url, {"field": "id_number"})
    assert r.status_code == 200
    assert ID_NUMBER not in r.content.decode()

    r = client.post(url, {"field": "id_number", "reason": ""})
    assert r.status_code == 400
    assert ID_NUMBER not in r.content.decode()
    assert not reveals().exists()

    r = client.post(url, {"field": "id_number", "reason": "核对来访人员"})
    assert r.status_code == 200
    assert ID_NUMBER in r.content.decode()
    assert reveals().get().reason == "核对来访人员"


def test_reveal_page_is_refused_to_enterprise_security(world, person):
    client = api_client(world.users[Role.ENTERPRISE_SECURITY])
    url = f"/registry/person/{person.pk}/reveal/"
    assert client.get(url, {"field": "id_number"}).status_code in (403, 404)
    r = client.post(url, {"field": "id_number", "reason": "need to know"})
    assert r.status_code in (403, 404)
    assert ID_NUMBER not in r.content.decode()
    assert not reveals().exists()


# --- exports ---------------------------------------------------------------------------


def test_export_with_personal_data_needs_reveal_permission_and_a_reason(world):
    from django.core.exceptions import PermissionDenied

    from anyuan.core import actions

    officer = world.users[Role.POLICE_OFFICER]  # may reveal people, may not export them
    with pytest.raises(PermissionDenied):
        actions.record_export(officer, Person, count=3, fmt="csv", personal=False)
    admin = world.users[Role.POLICE_ADMIN]
    with pytest.raises(actions.ValidationFailed) as e:
        actions.record_export(admin, Person, count=3, fmt="csv", personal=True, reason="")
    assert "reason" in e.value.errors
    entry = actions.record_export(
        admin, Person, count=3, fmt="xlsx", personal=True, reason="报送分局 (report)"
    )
    assert entry.action == AuditAction.EXPORT
    assert entry.actor == admin
    assert entry.after == {"count": 3, "format": "xlsx", "personal": True}
    assert entry.reason == "报送分局 (report)"
    assert AuditEntry.objects.filter(action=AuditAction.EXPORT).count() == 1
