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
