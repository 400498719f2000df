"""The Django admin of disputes and incidents: platform operators read, nobody writes
there (every change is an audited action of the pages and the API); a party's phone and
access code never appear."""

import pytest
from django.test import Client
from django.urls import reverse

from anyuan.accounts.models import User
from anyuan.core.roles import Role
from anyuan.disputes.models import Case, CaseParty
from anyuan.incidents.models import Incident

MODELS = ["case", "caseparty", "casetransition", "caseattachment", "groupwarning", "warninginfo"]


@pytest.fixture
def operator(world):
    user = world.users[Role.POLICE_ADMIN]
    User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


@pytest.mark.django_db
def test_operators_read_and_cannot_write(world, operator):
    party = world.own.dispute_party
    CaseParty.objects.filter(pk=party.pk).update(code_digest="d" * 64)
    party.phone = "13912340121"
    party.save()
    pages = [(f"admin:disputes_{m}_changelist", ()) for m in MODELS]
    pages += [("admin:incidents_incident_changelist", ())]
    pages += [
        ("admin:disputes_case_change", (world.own.dispute.pk,)),
        ("admin:disputes_caseparty_change", (party.pk,)),
        ("admin:incidents_incident_change", (world.own.incident.pk,)),
    ]
    for name, args in pages:
        response = operator.get(reverse(name, args=args))
        assert response.status_code == 200, (name, response.status_code)
        text = response.content.decode()
        assert "13912340121" not in text and "d" * 64 not in text, name
    for name in [f"admin:disputes_{m}_add" for m in MODELS] + ["admin:incidents_incident_add"]:
        assert operator.get(reverse(name)).status_code == 403, name
    summary = Case.objects.get(pk=world.own.dispute.pk).summary
    response = operator.post(
        reverse("admin:disputes_case_change", args=[world.own.dispute.pk]), {"summary": "改"}
    )
    assert response.status_code == 403
    assert Case.objects.get(pk=world.own.dispute.pk).summary == summary
    delete = reverse("admin:incidents_incident_delete", args=[world.own.incident.pk])
    assert operator.post(delete, {"post": "yes"}).status_code == 403
    assert Incident.objects.filter(pk=world.own.incident.pk).exists()
