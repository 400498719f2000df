import json

import pytest
from django.test import Client

from anyuan.core.roles import Role


@pytest.mark.django_db
def test_enterprise_admin_edits_own_enterprise_but_not_the_police_assessment(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.ENTERPRISE_ADMIN])
    enterprise = world.own.enterprise
    url = f"/api/v1/registry/enterprise/{enterprise.pk}"

    ok = client.patch(url, json.dumps({"headcount": 1234}), content_type="application/json")
    assert ok.status_code == 200
    enterprise.refresh_from_db()
    assert enterprise.headcount == 1234

    refused = client.patch(
        url, json.dumps({"risk_level": "low", "headcount": 1}), content_type="application/json"
    )
    assert refused.status_code == 200  # unchanged value: nothing to refuse
    refused = client.patch(
        url, json.dumps({"risk_level": "major"}), content_type="application/json"
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "risk_level"]
    enterprise.refresh_from_db()
    assert enterprise.risk_level == "low"


@pytest.mark.django_db
def test_police_officer_may_change_the_risk_level(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[Role.POLICE_OFFICER])
    enterprise = world.own.enterprise
    response = client.patch(
        f"/api/v1/registry/enterprise/{enterprise.pk}",
        json.dumps({"risk_level": "high"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    enterprise.refresh_from_db()
    assert enterprise.risk_level == "high"
