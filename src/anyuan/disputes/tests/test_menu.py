"""The menu shows "Report a dispute" only to roles that may file one (partners may not)."""

import pytest
from django.test import Client
from django.urls import reverse

from anyuan.core.navigation import menu_for
from anyuan.core.roles import Role

FILE_URL = "/disputes/new/"


def urls(user) -> set[str]:
    return {item["url"] for section in menu_for(user) for item in section["items"]}


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_report_a_dispute_only_for_those_who_may(world, role):
    assert reverse("disputes:case-add") == FILE_URL
    user = world.users[role]
    client = Client()
    client.force_login(user)
    allowed = client.get(FILE_URL).status_code == 200
    assert (FILE_URL in urls(user)) == allowed
    assert allowed == (role != Role.PARTNER)
    if role == Role.PARTNER:
        assert reverse("disputes:case-list") in urls(user)  # their invited cases
