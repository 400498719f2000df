"""Bodies are bounded before they are read (core/bodylimit.py): raw ASGI calls, as a client
on the network would make them, against the application the server runs.

An anonymous client must not be able to make the server write its body anywhere: Django's
ASGI handler spools a body past ``FILE_UPLOAD_MAX_MEMORY_SIZE`` to a temporary file before
any authentication, so each test records the temporary files created on disk and checks
that there are none."""

import asyncio
import io
import json
import tempfile

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client
from django.utils import timezone

from anyuan.core import bodylimit
from anyuan.core.roles import Role

MB = 1024 * 1024
CHUNK = 64 * 1024


class Client_:
    """One raw ASGI request: counts what the application read of the body."""

    def __init__(self, method, path, headers=(), chunks=(), declared=None):
        self.method, self.path = method, path
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        if declared is not None:
            self.headers.append((b"content-length", str(declared).encode()))
        self.chunks = list(chunks)
        self.declared = declared
        self.read = 0  # body bytes handed to the application
        self.messages = []

    async def receive(self):
        if self.chunks:
            part = self.chunks.pop(0)
            self.read += len(part)
            return {"type": "http.request", "body": part, "more_body": bool(self.chunks)}
        if self.declared is not None and self.read < self.declared:
            return {"type": "http.disconnect"}  # sent less than it announced, and left
        await asyncio.Event().wait()  # the client stays connected until the reply

    async def send(self, message):
        self.messages.append(message)

    def __call__(self, app):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": self.headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        async_to_sync(app)(scope, self.receive, self.send)
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        body = b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )
        return start["status"], dict(start["headers"]), body


def chunks_of(total: int | bytes, size: int = CHUNK):
    data = total if isinstance(total, bytes) else b"x" * total
    return [data[i : i + size] for i in range(0, len(data), size)]


async def _inline(job):
    from anyuan.events import actions

    return (await sync_to_async(actions.commit_or_busy)([job]))[0]


@pytest.fixture
def app():
    """The application ``anyuan serve`` runs (asgi.py), with ingestion committed in the
    test's own thread rather than the committer's. As Django's test client does, requests
    do not close the database connection at their start and end: it holds the test's
    transaction (PostgreSQL would otherwise lose it mid-test)."""
    from django.core import signals
    from django.db import close_old_connections

    from anyuan.events.asgi_ingest import Dispatcher, IngestApp, django_application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield Dispatcher(IngestApp(_inline), django_application)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_the_served_application_bounds_bodies_before_django():
    from anyuan.asgi import application

    assert isinstance(application.django, bodylimit.BodyLimit)


@pytest.fixture
def spool(tmp_path, monkeypatch):
    """Every temporary file created on disk while the test runs (Django's request body
    spool rolls over to ``tempfile.TemporaryFile``, uploads go to ``NamedTemporaryFile``).
    """
    created = []
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name in ("TemporaryFile", "NamedTemporaryFile"):
        original = getattr(tempfile, name)

        def recording(*args, _original=original, _name=name, **kwargs):
            created.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(tempfile, name, recording)
    return created


def test_an_oversized_content_length_is_refused_without_reading_the_body(app, spool, db):
    """The review's 300 MB anonymous POST: 413 at once, nothing read, nothing written."""
    request = Client_(
        "POST", "/accounts/login/", [("content-type", "application/x-www-form-urlencoded")],
        chunks=chunks_of(3 * MB), declared=300 * MB,
    )  # fmt: skip
    status, _headers, body = request(app)
    assert status == 413
    assert request.read == 0
    assert "2.5 MB" in body.decode()
    assert spool == []


def test_a_chunked_body_is_cut_off_past_the_limit(app, spool, db, settings):
    """No Content-Length: counted while it streams, cut off, nothing spooled to disk."""
    total = 12 * MB
    request = Client_(
        "POST",
        "/api/v1/registry/person",
        [("content-type", "application/json")],
        chunks=chunks_of(total),
    )
    status, headers, body = request(app)
    assert status == 413
    assert headers[b"content-type"] == b"application/json"
    assert "detail" in json.loads(body)
    assert request.read <= settings.ANYUAN_REQUEST_MAX_BYTES + CHUNK  # stopped reading
    assert request.read < total
    assert spool == []


def test_the_refusal_speaks_the_users_language(app, db):
    request = Client_("POST", "/api/v1/registry/person", [("cookie", "django_language=en")],
                      chunks=chunks_of(3 * MB), declared=10 * MB)  # fmt: skip
    status, headers, body = request(app)
    assert status == 413
    assert headers[b"content-language"] == b"en"
    assert json.loads(body)["detail"] == "The request body is too large (at most 2.5 MB)."


def test_a_body_within_the_limit_reaches_django(app, spool, db):
    """The limit does not get in the way: a small body is answered by Django as before."""
    request = Client_("POST", "/api/v1/registry/person", [("content-type", "application/json")],
                      chunks=[b"{}"], declared=2)  # fmt: skip
    status, _headers, _body = request(app)
    assert status == 401  # Django (Ninja) answered: the caller is not signed in
    assert request.read == 2


def test_the_lean_ingestion_route_is_bounded_too(app, spool, world, settings):
    """Device ingestion has its own route and limit (ANYUAN_INGEST_MAX_BYTES, in memory)."""
    device = world.own.device
    token = device.new_token()
    device.save()
    path = "/api/v1/events/ingest/passages/bulk"
    auth = [("authorization", f"Bearer {token}"), ("content-type", "application/json")]
    request = Client_("POST", path, auth, chunks=chunks_of(MB), declared=300 * MB)
    status, _headers, _body = request(app)
    assert status == 413
    assert request.read == 0
    settings.ANYUAN_INGEST_MAX_BYTES = 256 * 1024
    request = Client_("POST", path, auth, chunks=chunks_of(4 * MB))
    status, _headers, _body = request(app)
    assert status == 413
    assert request.read <= 256 * 1024 + CHUNK
    assert spool == []


# --- uploads: a larger limit, only when signed in ------------------------------------------------

UPLOADS = [
    ("POST", "/registry/person/import/"),
    ("POST", "/incidents/import/"),
    ("POST", "/disputes/new/"),
    ("POST", "/disputes/1/"),
    ("POST", "/api/v1/registry/import/people"),
    ("POST", "/api/v1/disputes/cases/1/files"),
]
NOT_UPLOADS = [
    ("POST", "/accounts/login/"),
    ("POST", "/registry/person/add/"),
    ("POST", "/registry/person/1/edit/"),
    ("POST", "/api/v1/registry/person"),
    ("PATCH", "/api/v1/registry/person/1"),
    ("POST", "/api/v1/registry/person/1/reveal"),
    ("GET", "/api/v1/registry/import/people"),
    ("POST", "/no/such/page/"),
]


@pytest.mark.parametrize(("method", "path"), UPLOADS)
def test_views_that_take_files_accept_uploads(method, path):
    assert bodylimit.accepts_uploads(path, method)


@pytest.mark.parametrize(("method", "path"), NOT_UPLOADS)
def test_other_views_do_not(method, path):
    assert not bodylimit.accepts_uploads(path, method)


def multipart(fields: dict, filename: str, content: bytes) -> tuple[str, bytes]:
    boundary = "anyuan-test-boundary"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(f"{value}\r\n".encode())
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
    )
    out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", out.getvalue()


def big_csv(size: int) -> bytes:
    head = "姓名,身份证号\n".encode()
    return head + b"x" * (size - len(head))


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_an_anonymous_upload_gets_the_small_limit(app, spool, world):
    """The upload limit is for signed-in people: anonymous, the import path is as small as
    every other, and the file is neither read nor written."""
    content_type, data = multipart({"dry_run": "true"}, "people.csv", big_csv(4 * MB))
    request = Client_("POST", "/api/v1/registry/import/people", [("content-type", content_type)],
                      chunks=[data], declared=len(data))  # fmt: skip
    status, _headers, _body = request(app)
    assert status == 413
    assert request.read == 0
    assert spool == []


@pytest.mark.parametrize("credential", ["forged session", "revoked token", "unknown token"])
def test_a_forged_credential_gets_the_small_limit(app, spool, world, credential):
    from anyuan.accounts.models import ApiToken

    key, prefix, digest = ApiToken.new_key()
    user = world.users[Role.ENTERPRISE_ADMIN]
    ApiToken.objects.create(user=user, name="t", key_prefix=prefix, key_digest=digest,
                            expires=timezone.now() + ApiToken.ttl(), revoked=True)  # fmt: skip
    headers = {
        "forged session": ("cookie", "sessionid=abcdefghijklmnopqrstuvwxyz012345"),
        "revoked token": ("authorization", f"Bearer {key}"),
        "unknown token": ("authorization", "Bearer ayu_00000000_guess"),
    }[credential]
    content_type, data = multipart({"dry_run": "true"}, "people.csv", big_csv(4 * MB))
    request = Client_("POST", "/api/v1/registry/import/people",
                      [("content-type", content_type), headers],
                      chunks=[data], declared=len(data))  # fmt: skip
    status, _headers, _body = request(app)
    assert status == 413
    assert request.read == 0


def test_a_password_without_the_second_factor_gets_the_small_limit(app, spool, world):
    """An enterprise administrator's session past the password but not the code step may
    not upload more than anyone else: its body is refused unread."""
    from anyuan.core.testing import password_only_login

    client = Client()
    password_only_login(client, world.users[Role.ENTERPRISE_ADMIN])
    csrf = "t" * 32
    content_type, data = multipart(
        {"dry_run": "on", "csrfmiddlewaretoken": csrf}, "people.csv", big_csv(4 * MB)
    )
    cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}"
    request = Client_("POST", "/registry/person/import/",
                      [("content-type", content_type), ("cookie", cookie)],
                      chunks=[data], declared=len(data))  # fmt: skip
    status, _headers, _body = request(app)
    assert status == 413
    assert request.read == 0
    assert spool == []


def test_a_signed_in_import_may_send_more_through_the_api(app, world, spool):
    """A valid API token: the 4 MB file reaches the import (which reads and judges it)."""
    from anyuan.accounts.models import ApiToken

    key, prefix, digest = ApiToken.new_key()
    user = world.users[Role.ENTERPRISE_ADMIN]
    ApiToken.objects.create(user=user, name="t", key_prefix=prefix, key_digest=digest,
                            expires=timezone.now() + ApiToken.ttl())  # fmt: skip
    content_type, data = multipart({"dry_run": "true"}, "people.csv", big_csv(4 * MB))
    request = Client_("POST", "/api/v1/registry/import/people",
                      [("content-type", content_type), ("authorization", f"Bearer {key}")],
                      chunks=chunks_of(data), declared=len(data))  # fmt: skip
    status, _headers, body = request(app)
    assert status in (200, 422)
    assert "problems" in json.loads(body)  # the importer's own answer
    assert request.read == len(data)
    assert spool  # past 2.5 MB Django spools it to disk (the fixture sees that)


def test_a_signed_in_import_may_send_more_through_the_page(app, world):
    """A valid session on the import page: the file reaches the view."""
    user = world.users[Role.ENTERPRISE_ADMIN]
    csrf = "t" * 32
    content_type, data = multipart(
        {"dry_run": "on", "csrfmiddlewaretoken": csrf}, "people.csv", big_csv(4 * MB)
    )
    cookie = f"sessionid={session_cookie(user)}; csrftoken={csrf}"
    request = Client_("POST", "/registry/person/import/",
                      [("content-type", content_type), ("cookie", cookie)],
                      chunks=chunks_of(data), declared=len(data))  # fmt: skip
    status, headers, _body = request(app)
    # a file this large is imported in the background: the page answers with the job
    from anyuan.registry.models import ImportJob

    assert status == 303
    assert request.read == len(data)
    job = ImportJob.objects.get(user=user, filename="people.csv")
    location = {k.lower(): v for k, v in headers.items()}[b"location"].decode()
    assert location == job.get_absolute_url()


def test_signed_in_is_not_enough_off_the_upload_paths(app, spool, world):
    user = world.users[Role.POLICE_ADMIN]
    cookie = f"sessionid={session_cookie(user)}"
    request = Client_("POST", "/api/v1/registry/person",
                      [("content-type", "application/json"), ("cookie", cookie)],
                      chunks=chunks_of(4 * MB))  # fmt: skip
    status, _headers, _body = request(app)
    assert status == 413
    assert request.read < 4 * MB
    assert spool == []


def test_the_upload_limit_holds_for_signed_in_requests_too(app, world, settings):
    settings.ANYUAN_UPLOAD_MAX_BYTES = 3 * MB
    user = world.users[Role.ENTERPRISE_ADMIN]
    cookie = f"sessionid={session_cookie(user)}"
    request = Client_("POST", "/registry/person/import/", [("cookie", cookie)],
                      chunks=chunks_of(8 * MB))  # fmt: skip
    status, _headers, body = request(app)
    assert status == 413
    assert request.read <= 3 * MB + CHUNK
    assert "3.0 MB" in body.decode()


def test_when_the_caller_cannot_be_checked_the_small_limit_holds(app, spool, world, monkeypatch):
    async def broken(scope):
        raise RuntimeError("database away")

    monkeypatch.setattr(bodylimit, "signed_in", broken)
    cookie = f"sessionid={session_cookie(world.users[Role.ENTERPRISE_ADMIN])}"
    request = Client_("POST", "/registry/person/import/", [("cookie", cookie)],
                      chunks=chunks_of(4 * MB), declared=4 * MB)  # fmt: skip
    status, _headers, _body = request(app)
    assert status == 413
    assert request.read == 0
