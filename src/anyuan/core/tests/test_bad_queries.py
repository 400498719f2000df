"""Odd query strings on pages and the API get a 4xx or an ordinary page, never a 500."""

import pytest
from django.test import Client

from anyuan.core.roles import Role

URLS = [
    "/registry/person/?q=%00",
    "/registry/person/?enterprise=%00",
    "/registry/person/?enterprise=abc",
    "/registry/person/?enterprise=99999999999999999999999",
    "/registry/enterprise/?hazardous_chemicals=maybe",
    "/registry/person/?page=%00",
    "/registry/person/?page=-5",
    "/registry/person/?o=%00",
    "/audit/log/?q=%00",
    "/api/v1/registry/person?q=%00",
    "/api/v1/registry/person?enterprise=notanumber",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
def test_odd_queries_never_fail_the_server(world, url):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.POLICE_ADMIN])
    response = client.get(url, follow=True)
    assert response.status_code < 500, response.status_code
    if "%00" in url:
        assert response.status_code in (400, 422)


# Python takes UTC offsets up to ±23:59, PostgreSQL up to ±15:59: such a time failed in
# the database (a 500) until datetimes were sent to it as UTC (core/postgres.py).
FAR_OFFSET = "2026-11-02T01:00:00-17:33"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/incidents?since={FAR_OFFSET}",
        f"/api/v1/events/alarms?until={FAR_OFFSET}",
        f"/api/v1/events/passages?since={FAR_OFFSET}",
        f"/api/v1/alerts?since={FAR_OFFSET}",
    ],
)
def test_a_time_far_from_utc_is_a_filter_like_any_other(world, url):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.POLICE_ADMIN])
    response = client.get(url.replace("+", "%2B"))
    assert response.status_code == 200, response.content[:300]


@pytest.mark.django_db
def test_a_time_far_from_utc_is_stored_as_its_instant(world):
    import datetime as dt

    from anyuan.disputes.models import WarningInfo

    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.POLICE_ADMIN])
    response = client.post(
        "/api/v1/disputes/information",
        {"category": "other", "title": "t", "content": "c", "reported_at": FAR_OFFSET},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content[:300]
    stored = WarningInfo.objects.get(pk=response.json()["id"]).reported_at
    assert stored == dt.datetime(2026, 11, 2, 18, 33, tzinfo=dt.UTC)
