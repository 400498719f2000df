"""The interactive API docs (/api/v1/docs) load nothing from outside (swagger-ui is served
from this server's static files, npm's swagger-ui-dist) and carry no CSRF token."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from anyuan.core.roles import Role

DOCS = "/api/v1/docs"


@pytest.fixture
def signed_in(world):
    client = Client()
    client.get("/accounts/login/")  # sets the CSRF cookie, as a browser would have it
    client.force_login(world.users[Role.POLICE_ADMIN])
    return client


def test_the_docs_reference_only_this_servers_files(signed_in):
    r = signed_in.get(DOCS)
    assert r.status_code == 200
    page = r.content.decode()
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page), "an outside URL"
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(ref.endswith("swagger-ui-bundle.js") for ref in refs)
    for ref in refs:
        assert ref.startswith("/static/"), ref
        assert finders.find(ref.removeprefix("/static/")), ref  # there to be served


def test_the_docs_embed_no_csrf_token(signed_in):
    page = signed_in.get(DOCS).content.decode()
    cookie = signed_in.cookies["csrftoken"].value
    assert cookie not in page
    assert "csrfmiddlewaretoken" not in page
    assert not re.search(r"\b[A-Za-z0-9]{32,}\b", page), "something like a (masked) token"


def test_the_docs_are_for_signed_in_people(db):
    r = Client().get(DOCS)
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/")


def test_the_swagger_files_are_served_by_whitenoise(signed_in):
    r = signed_in.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert r.status_code == 200
    assert b"SwaggerUIBundle" in b"".join(r.streaming_content)


def test_the_schema_names_each_response_status_once(signed_in):
    """swagger-ui reads the schema as YAML, which refuses a key given twice (Ninja's 200
    and an operation's declared "200"): the docs page showed nothing but a parser error."""
    raw = signed_in.get("/api/v1/openapi.json").content.decode()
    repeated = []

    def pairs(items):
        keys = [k for k, _v in items]
        repeated.extend(k for k in set(keys) if keys.count(k) > 1)
        return dict(items)

    schema = json.loads(raw, object_pairs_hook=pairs)
    assert repeated == []
    csv = schema["paths"]["/api/v1/events/muster/{pk}.csv"]["get"]["responses"]["200"]
    assert "text/csv" in csv["content"]  # the declared details are kept
    ingest = schema["paths"]["/api/v1/events/ingest/passages"]["post"]["responses"]
    assert {"200", "201", "401", "413", "422"} <= set(ingest)
