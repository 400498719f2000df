"""Dispute statistics and dashboard tiles on a known set of cases; warning information;
the pages of the app."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from anyuan.core.roles import Role
from anyuan.dashboard.api import Place
from anyuan.disputes import actions, stats
from anyuan.disputes.models import Case, State, WarningInfo
from anyuan.disputes.tests.helpers import make_case
from anyuan.disputes.tiles import tiles


@pytest.fixture
def known(world):
    """This year, own enterprise: 3 settled in tier 1, 1 settled in tier 2, 1 settled in
    tier 3, 1 referred, 2 open (one breached); the neighbour: 1 settled in tier 2."""
    Case.objects.all().delete()
    now = timezone.now()
    at = now - dt.timedelta(days=1)
    for tier in (1, 1, 1, 2, 3):
        make_case(world, state=State.CLOSED, tier=tier, settled_tier=tier, at=at,
                  closed_at=at + dt.timedelta(days=2), satisfaction=4.0)  # fmt: skip
    make_case(world, state=State.REFERRED, tier=3, at=at, closed_at=at + dt.timedelta(days=4))
    make_case(world, state=State.MEDIATING, tier=2, at=at, breaches=1,
              due_close=now - dt.timedelta(hours=1))  # fmt: skip
    make_case(world, state=State.REPORTED, tier=1, at=at, due_close=now + dt.timedelta(days=2))
    make_case(world, state=State.AGREEMENT, tier=2, settled_tier=2, at=at,
              enterprise=world.neighbour.enterprise)  # fmt: skip
    return world


@pytest.mark.django_db
def test_summary(known):
    police = known.users[Role.POLICE_ADMIN]
    s = stats.summary(Case.objects.restrict(police))
    assert (s["total"], s["open"], s["settled"], s["tier1"], s["park"]) == (
        9,
        3,
        6,
        3,
        5,
    )  # agreement: open until the return visit
    assert (s["share_tier1"], s["share_park"]) == (50.0, 83.3)
    assert s["breached"] == 1 and s["overdue"] == 1 and s["satisfaction"] == 4.0
    assert s["days_to_close"] == 2.3  # (2·5 + 4) / 6
    own = stats.summary(Case.objects.restrict(known.users[Role.ENTERPRISE_ADMIN]))
    assert (own["total"], own["settled"], own["share_tier1"]) == (8, 5, 60.0)
    tables = stats.breakdowns(Case.objects.restrict(police))
    assert [r["total"] for r in tables["tier"]] == [4, 3, 2]
    assert [r["count"] for r in tables["settled_tier"]] == [3, 2, 1]
    by_enterprise = {r["label"]: r["total"] for r in tables["enterprise"]}
    assert by_enterprise == {known.own.enterprise.name: 8, known.neighbour.enterprise.name: 1}


@pytest.mark.django_db
def test_tiles(known):
    by_key = {t.key: t for t in tiles(known.users[Role.POLICE_ADMIN], Place())}
    assert set(by_key) == {"disputes.open", "disputes.tier1", "disputes.park", "disputes.breaches"}
    assert by_key["disputes.open"].value == 3 and by_key["disputes.open"].level == "warning"
    assert (
        by_key["disputes.tier1"].value == "50%" and by_key["disputes.tier1"].extra["share"] == 50.0
    )
    assert by_key["disputes.park"].value == "83.3%"
    assert by_key["disputes.breaches"].value == 1 and by_key["disputes.breaches"].level == "danger"
    narrow = {
        t.key: t
        for t in tiles(
            known.users[Role.POLICE_ADMIN], Place(enterprise=known.neighbour.enterprise.pk)
        )
    }
    assert narrow["disputes.open"].value == 1 and narrow["disputes.tier1"].value == "0%"
    assert narrow["disputes.park"].value == "100%"
    own = {t.key: t for t in tiles(known.users[Role.ENTERPRISE_ADMIN], Place())}
    assert own["disputes.tier1"].value == "60%"
    assert {t.key: t.value for t in tiles(known.users[Role.PARTNER], Place())}["disputes.open"] == 0
    from anyuan.dashboard.tiles import providers

    assert tiles in providers()


@pytest.mark.django_db
def test_pages(known):
    for role in (Role.POLICE_ADMIN, Role.ENTERPRISE_ADMIN, Role.INFORMANT, Role.PARTNER):
        client = Client()
        client.force_login(known.users[role])
        for name in ("disputes:case-list", "disputes:stats"):
            assert client.get(reverse(name)).status_code == 200, (role, name)
    client = Client()
    client.force_login(known.users[Role.POLICE_ADMIN])
    page = client.get(reverse("disputes:stats")).content.decode()
    assert "50.0%" in page and "83.3%" in page
    page = client.get(reverse("disputes:groupwarning-list")).content.decode()
    assert known.own.group_warning.get_absolute_url() in page
    enterprise = Client()
    enterprise.force_login(known.users[Role.ENTERPRISE_ADMIN])
    page = enterprise.get(reverse("disputes:groupwarning-list")).content.decode()
    assert known.own.group_warning.get_absolute_url() not in page  # the police's only


@pytest.mark.django_db
def test_warning_information(world):
    informant = world.users[Role.INFORMANT]
    row = actions.report_warning(
        informant, {"category": "wage_arrears", "level": "high", "title": "三车间传言欠薪将聚集"}
    )
    assert (row.source, row.reporter, row.enterprise, row.station) == (
        "informant", world.own.colleague, world.own.enterprise, world.home.station,
    )  # fmt: skip
    assert list(WarningInfo.objects.restrict(informant)) == [row]
    police = world.users[Role.POLICE_OFFICER]
    linked = actions.report_warning(
        police,
        {"category": "gathering", "source": "liaison", "title": "警务秘书报告",
         "enterprise": world.own.enterprise, "cases": [world.own.dispute.pk], "verified": True},
    )  # fmt: skip
    assert linked.verified and list(linked.cases.all()) == [world.own.dispute]
    with pytest.raises(actions.ValidationFailed):
        actions.report_warning(
            police, {"category": "gathering", "title": "x", "cases": [world.foreign.dispute.pk]}
        )
    with pytest.raises(actions.ValidationFailed):
        actions.report_warning(police, {"category": "nonsense", "title": "x"})
    client = Client()
    client.force_login(world.users[Role.ENTERPRISE_ADMIN])
    r = client.post(
        reverse("disputes:warninginfo-add"),
        {"category": "closure", "level": "medium", "title": "企业拟搬迁", "content": ""},
    )
    assert r.status_code == 302
    made = WarningInfo.objects.get(title="企业拟搬迁")
    assert made.source == "enterprise" and made.enterprise == world.own.enterprise
    assert client.get(made.get_absolute_url()).status_code == 200
    assert client.get(world.neighbour.warning_info.get_absolute_url()).status_code == 404
