"""The disputes API (/api/v1/disputes): who sees which cases, the steps through the same
actions as the pages (a refused step is a 409 and changes nothing), bad input (422 with the
field), no access codes or personal data in clear, warnings, and the statistics as
``stats.py`` computes them."""

import datetime as dt
import json

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from anyuan.core.models import AuditEntry
from anyuan.core.roles import Role
from anyuan.disputes import actions, stats
from anyuan.disputes.models import (
    Case,
    CaseAttachment,
    CaseParty,
    CaseTransition,
    State,
    WarningInfo,
)
from anyuan.disputes.tests.helpers import PDF, make_case, pdf

S = State
API = "/api/v1/disputes"


def client_for(world, role) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the messages checked are English
    client.force_login(world.users[role])
    return client


def post(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["items"]}


def snapshot(case):
    case = Case.objects.get(pk=case.pk)
    return (
        case.state,
        case.tier,
        case.updated,
        CaseTransition.objects.filter(case=case).count(),
        AuditEntry.objects.filter(object_type="disputes.case", object_id=str(case.pk)).count(),
    )


# --- who sees what -------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_role_lists_its_own_cases(world):
    own, neighbour, foreign = world.own.dispute, world.neighbour.dispute, world.foreign.dispute
    police = client_for(world, Role.POLICE_OFFICER)
    assert ids(police.get(f"{API}/cases")) == {own.pk, neighbour.pk}
    enterprise = client_for(world, Role.ENTERPRISE_ADMIN)
    assert ids(enterprise.get(f"{API}/cases")) == {own.pk}
    assert enterprise.get(f"{API}/cases/{own.pk}").status_code == 200
    for case in (neighbour, foreign):
        assert enterprise.get(f"{API}/cases/{case.pk}").status_code == 404
    assert police.get(f"{API}/cases/{foreign.pk}").status_code == 404


@pytest.mark.django_db
def test_partner_sees_only_the_tier_3_cases_they_are_invited_to(world):
    partner = world.users[Role.PARTNER]
    invited = make_case(world, state=S.ESCALATED, tier=3)
    other = make_case(world, state=S.ESCALATED, tier=3)
    client = client_for(world, Role.PARTNER)
    assert ids(client.get(f"{API}/cases")) == set()
    response = post(client_for(world, Role.POLICE_OFFICER), f"{API}/cases/{invited.pk}/invite",
                    {"partner": partner.pk})  # fmt: skip
    assert response.status_code == 200, response.content
    assert [p["id"] for p in response.json()["partners"]] == [partner.pk]
    assert ids(client.get(f"{API}/cases")) == {invited.pk}
    assert client.get(f"{API}/cases/{invited.pk}").json()["steps"] == [
        "accept",
        "refer",
        "withdraw",
    ]
    assert client.get(f"{API}/cases/{other.pk}").status_code == 404
    assert post(client, f"{API}/cases/{other.pk}/accept").status_code == 404
    assert Case.objects.get(pk=other.pk).state == S.ESCALATED


@pytest.mark.django_db
def test_inviting_below_tier_3_is_a_conflict(world):
    case = make_case(world, state=S.REPORTED, tier=2)
    response = post(client_for(world, Role.POLICE_OFFICER), f"{API}/cases/{case.pk}/invite",
                    {"partner": world.users[Role.PARTNER].pk})  # fmt: skip
    assert response.status_code == 409
    assert response.json()["detail"] == "Partners join at tier 3; escalate the case first."
    assert not Case.objects.get(pk=case.pk).partners.exists()


@pytest.mark.django_db
def test_informant_files_and_follows_own_reports(world):
    client = client_for(world, Role.INFORMANT)
    assert ids(client.get(f"{API}/cases")) == set()
    response = post(
        client,
        f"{API}/cases",
        {
            "type": "dormitory",
            "severity": "minor",
            "summary": "宿舍噪音",
            "enterprise": world.neighbour.enterprise.pk,  # not theirs to choose: ignored
            "parties": [{"name": "李四", "phone": "13912340121"}, {"name": "王五"}],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(pk=body["id"])
    assert case.reporter == world.own.colleague and case.enterprise == world.own.enterprise
    assert (body["tier"], body["state"], body["enterprise_id"]) == (
        1,
        "reported",
        case.enterprise_id,
    )
    assert ids(client.get(f"{API}/cases")) == {case.pk}
    assert client.get(f"{API}/cases/{world.own.dispute.pk}").status_code == 404
    # no access code, no phone in clear, in the answer
    text = response.content.decode()
    assert "13912340121" not in text and "code_digest" not in text
    party = CaseParty.objects.get(case=case, name="李四")
    assert party.code_digest  # a code was issued (to be shown on the case page only)
    assert [p["phone"] for p in body["parties"]] == [str(party.phone), ""]
    assert str(party.phone) != "13912340121"
    assert body["steps"] == []  # informants take no step
    assert post(client, f"{API}/cases/{case.pk}/accept").status_code == 403
    assert Case.objects.get(pk=case.pk).state == S.REPORTED


@pytest.mark.django_db
def test_partner_may_not_file(world):
    count = Case.objects.count()
    response = post(client_for(world, Role.PARTNER), f"{API}/cases",
                    {"type": "fight", "summary": "x", "parties": [{"name": "张三"}]})  # fmt: skip
    assert response.status_code == 403
    assert Case.objects.count() == count


@pytest.mark.django_db
def test_filters(world):
    escalated = make_case(world, state=S.ESCALATED, tier=3, type="fight")
    client = client_for(world, Role.POLICE_ADMIN)
    assert ids(client.get(f"{API}/cases?state=escalated")) == {escalated.pk}
    assert ids(client.get(f"{API}/cases?tier=3&type=fight")) == {escalated.pk}
    assert ids(client.get(f"{API}/cases?tier=2")) == {
        world.own.dispute.pk,
        world.neighbour.dispute.pk,
    }
    enterprise = world.neighbour.enterprise.pk
    assert ids(client.get(f"{API}/cases?enterprise={enterprise}")) == {world.neighbour.dispute.pk}
    page = client.get(f"{API}/cases?limit=1&offset=1").json()
    assert page["count"] == 3 and len(page["items"]) == 1
    bad = client.get(f"{API}/cases?state=nonsense")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "state"


# --- the steps -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_allowed_step(world):
    case = world.own.dispute  # tier 2, reported
    response = post(client_for(world, Role.ENTERPRISE_ADMIN), f"{API}/cases/{case.pk}/accept",
                    {"note": "已联系双方"})  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "accepted" and body["accepted_at"]
    assert body["history"][-1]["name"] == "accept"
    assert body["history"][-1]["note"] == "已联系双方"
    assert body["history"][-1]["actor_name"] == "enterprise_admin"
    assert "mediate" in body["steps"]
    case.refresh_from_db()
    assert case.state == S.ACCEPTED
    assert AuditEntry.objects.filter(object_type="disputes.case", object_id=str(case.pk)).exists()


@pytest.mark.django_db
def test_a_refused_step_is_a_conflict_and_changes_nothing(world):
    case = world.own.dispute
    before = snapshot(case)
    response = post(client_for(world, Role.POLICE_OFFICER), f"{API}/cases/{case.pk}/close")
    assert response.status_code == 409
    assert response.json() == {"detail": "This case is Reported; it cannot be closed now."}
    assert snapshot(case) == before
    top = make_case(world, state=S.ACCEPTED, tier=3)
    before = snapshot(top)
    response = post(client_for(world, Role.POLICE_OFFICER), f"{API}/cases/{top.pk}/escalate",
                    {"note": "升级"})  # fmt: skip
    assert response.status_code == 409
    assert "top tier" in response.json()["detail"]
    assert snapshot(top) == before


@pytest.mark.django_db
def test_another_tiers_case_is_forbidden(world):
    case = make_case(world, state=S.REPORTED, tier=3)
    before = snapshot(case)
    response = post(client_for(world, Role.ENTERPRISE_ADMIN), f"{API}/cases/{case.pk}/accept")
    assert response.status_code == 403
    assert "tier 3" in response.json()["detail"]
    assert snapshot(case) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("step", "data", "field", "message"),
    [
        ("escalate", {}, "note", "Give a reason or note (required for this step)."),
        ("refer", {"note": "转仲裁", "to": "moon"}, "to", "Say where the case is referred to."),
        ("withdraw", {"note": "x" * 4001}, "note", "At most 4000 characters."),
    ],
)
def test_bad_step_input_is_a_422_with_the_field(world, step, data, field, message):
    case = world.own.dispute
    before = snapshot(case)
    response = post(client_for(world, Role.POLICE_OFFICER), f"{API}/cases/{case.pk}/{step}", data)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", field], "msg": message, "type": "invalid"}
    ]
    assert snapshot(case) == before


@pytest.mark.django_db
def test_refer_with_a_destination(world):
    case = world.own.dispute
    response = post(client_for(world, Role.POLICE_OFFICER), f"{API}/cases/{case.pk}/refer",
                    {"note": "转劳动仲裁", "to": "arbitration"})  # fmt: skip
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["referred_to"]) == ("referred", "arbitration")


@pytest.mark.django_db
def test_agreement_through_the_api(world, case_files_dir):
    case = make_case(world, state=S.MEDIATING, tier=1)
    client = client_for(world, Role.ENTERPRISE_SECURITY)
    refused = post(client, f"{API}/cases/{case.pk}/agree")
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "agreement"]
    assert Case.objects.get(pk=case.pk).state == S.MEDIATING
    bad = client.post(f"{API}/cases/{case.pk}/files", {"kind": "agreement",
                      "file": pdf("agreement.exe")})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "file"]
    missing = client.post(f"{API}/cases/{case.pk}/files", {"kind": "agreement"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["msg"] == "Choose a file."
    assert not CaseAttachment.objects.filter(case=case).exists()
    up = client.post(f"{API}/cases/{case.pk}/files", {"kind": "agreement", "file": pdf()})
    assert up.status_code == 201, up.content
    row = CaseAttachment.objects.get(pk=up.json()["id"])
    assert (row.kind, row.file.read()) == ("agreement", PDF)
    assert up.json()["url"] == f"/disputes/files/{row.pk}/"
    done = post(client, f"{API}/cases/{case.pk}/agree", {"note": "签订调解协议"})
    assert done.status_code == 200, done.content
    assert (done.json()["state"], done.json()["settled_tier"]) == ("agreement", 1)


# --- filing: bad input ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "fight", "summary": "", "parties": [{"name": "张三"}]}, "summary"),
        ({"type": "fight", "summary": "打架", "parties": []}, "parties"),
        (
            {"type": "fight", "summary": "打架", "parties": [{"name": "张三", "phone": "123"}]},
            "parties",
        ),
        ({"type": "fight", "summary": "打\x00架", "parties": [{"name": "张三"}]}, "summary"),
        ({"type": "duel", "summary": "打架", "parties": [{"name": "张三"}]}, "type"),
        (
            {"type": "fight", "summary": "打架", "people_involved": 0, "parties": [{"name": "张"}]},
            "people_involved",
        ),
        ({"type": "fight", "summary": "打架", "zone": 10**30, "parties": [{"name": "张"}]}, "zone"),
    ],
)
def test_bad_filing_is_a_422_and_files_nothing(world, data, field):
    count, parties = Case.objects.count(), CaseParty.objects.count()
    response = post(client_for(world, Role.ENTERPRISE_ADMIN), f"{API}/cases", data)
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert any(e["loc"][-1] == field and e["msg"] for e in detail), detail
    assert (Case.objects.count(), CaseParty.objects.count()) == (count, parties)


@pytest.mark.django_db
def test_police_file_for_an_enterprise_of_their_station_only(world):
    client = client_for(world, Role.POLICE_OFFICER)
    data = {"type": "wages", "summary": "欠薪", "parties": [{"name": "张三"}]}
    foreign = post(client, f"{API}/cases", {**data, "enterprise": world.foreign.enterprise.pk})
    assert foreign.status_code == 422
    assert foreign.json()["detail"] == [
        {"loc": ["body", "enterprise"], "msg": "Unknown reference.", "type": "invalid"}
    ]
    ok = post(client, f"{API}/cases", {**data, "enterprise": world.neighbour.enterprise.pk})
    assert ok.status_code == 201, ok.content
    assert ok.json()["enterprise_id"] == world.neighbour.enterprise.pk
    assert ok.json()["tier"] == 2  # wages: the enterprise's management


# --- warnings ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_group_warnings_are_the_polices(world):
    police = client_for(world, Role.POLICE_ADMIN)
    found = ids(police.get(f"{API}/warnings"))
    assert found == {world.own.group_warning.pk, world.neighbour.group_warning.pk}
    one = police.get(f"{API}/warnings/{world.own.group_warning.pk}").json()
    assert one["cases"] == [world.own.dispute.pk]
    assert police.get(f"{API}/warnings/{world.foreign.group_warning.pk}").status_code == 404
    enterprise = client_for(world, Role.ENTERPRISE_ADMIN)
    assert ids(enterprise.get(f"{API}/warnings")) == set()
    assert enterprise.get(f"{API}/warnings/{world.own.group_warning.pk}").status_code == 404
    detail = police.get(f"{API}/cases/{world.own.dispute.pk}").json()
    assert detail["group_warnings"] == [world.own.group_warning.pk]
    assert enterprise.get(f"{API}/cases/{world.own.dispute.pk}").json()["group_warnings"] == []


@pytest.mark.django_db
def test_warning_information(world):
    informant = client_for(world, Role.INFORMANT)
    response = post(informant, f"{API}/information",
                    {"category": "wage_arrears", "level": "high", "title": "三车间欠薪两月",
                     "verified": True})  # fmt: skip
    assert response.status_code == 201, response.content
    row = WarningInfo.objects.get(pk=response.json()["id"])
    assert (row.source, row.enterprise, row.reporter) == (
        "informant",
        world.own.enterprise,
        world.own.colleague,
    )
    assert row.verified is False  # the police verify
    assert "reporter" not in response.json()  # who reported it is not in the answer
    assert ids(informant.get(f"{API}/information")) == {row.pk}
    # the enterprise sees neither what its informant nor what the police's liaison
    # reported about it (docs/disputes.md), only what it reported itself
    enterprise = client_for(world, Role.ENTERPRISE_ADMIN)
    assert ids(enterprise.get(f"{API}/information")) == set()
    assert enterprise.get(f"{API}/information/{row.pk}").status_code == 404
    own = post(enterprise, f"{API}/information", {"category": "closure", "title": "拟搬迁"})
    assert own.status_code == 201, own.content
    assert ids(enterprise.get(f"{API}/information")) == {own.json()["id"]}
    police = client_for(world, Role.POLICE_OFFICER)
    linked = post(police, f"{API}/information",
                  {"category": "gathering", "title": "计划聚集", "enterprise":
                   world.own.enterprise.pk, "cases": [world.own.dispute.pk], "verified": True})  # fmt: skip
    assert linked.status_code == 201, linked.content
    assert linked.json()["cases"] == [world.own.dispute.pk] and linked.json()["verified"]
    assert linked.json()["source"] == "officer"
    assert ids(police.get(f"{API}/information?category=gathering")) == {linked.json()["id"]}
    # the list carries the linked cases too (prefetched for the page)
    listed = police.get(f"{API}/information?category=gathering").json()["items"]
    assert [row["cases"] for row in listed] == [[world.own.dispute.pk]]


@pytest.mark.django_db
def test_bad_warning_information_is_refused(world):
    count = WarningInfo.objects.count()
    police = client_for(world, Role.POLICE_OFFICER)
    no_title = post(police, f"{API}/information", {"category": "petition"})
    assert no_title.status_code == 422
    assert no_title.json()["detail"][0]["loc"] == ["body", "title"]
    foreign_case = post(police, f"{API}/information", {"category": "petition", "title": "上访",
                        "cases": [world.foreign.dispute.pk]})  # fmt: skip
    assert foreign_case.status_code == 422
    assert foreign_case.json()["detail"][0]["loc"] == ["body", "cases"]
    bad_category = post(police, f"{API}/information", {"category": "rumour", "title": "x"})
    assert bad_category.status_code == 422
    partner = post(client_for(world, Role.PARTNER), f"{API}/information",
                   {"category": "petition", "title": "上访"})  # fmt: skip
    assert partner.status_code == 403
    assert WarningInfo.objects.count() == count


# --- statistics ----------------------------------------------------------------------------


@pytest.fixture
def known(world):
    """This year, own enterprise: 3 settled in tier 1, 1 in tier 2, 1 in tier 3, 1 referred,
    2 open (one breached); the neighbour: 1 settled in tier 2. Last year: one case."""
    Case.objects.all().delete()
    now = timezone.now()
    at = now - dt.timedelta(days=1)
    for tier in (1, 1, 1, 2, 3):
        make_case(world, state=S.CLOSED, tier=tier, settled_tier=tier, at=at,
                  closed_at=at + dt.timedelta(days=2), satisfaction=4.0)  # fmt: skip
    make_case(world, state=S.REFERRED, tier=3, at=at, closed_at=at + dt.timedelta(days=4))
    make_case(world, state=S.MEDIATING, tier=2, at=at, breaches=1,
              due_close=now - dt.timedelta(hours=1))  # fmt: skip
    make_case(world, state=S.REPORTED, tier=1, at=at, due_close=now + dt.timedelta(days=2))
    make_case(world, state=S.AGREEMENT, tier=2, settled_tier=2, at=at,
              enterprise=world.neighbour.enterprise)  # fmt: skip
    make_case(world, state=S.CLOSED, tier=1, settled_tier=1, at=at.replace(year=at.year - 1))
    return world


@pytest.mark.django_db
def test_statistics_are_what_stats_computes(known):
    year = timezone.localdate().year
    for role, total in ((Role.POLICE_ADMIN, 9), (Role.ENTERPRISE_ADMIN, 8)):
        user = known.users[role]
        response = client_for(known, role).get(f"{API}/stats")
        assert response.status_code == 200, response.content
        body = response.json()
        qs = stats.for_year(Case.objects.restrict(user), year)
        with translation.override("en"):  # the labels, as the client asked
            computed = {"year": year, "summary": stats.summary(qs), "tables": stats.breakdowns(qs)}
        expected = json.loads(json.dumps(computed, default=str))
        assert body == expected
        assert body["summary"]["total"] == total
    police = client_for(known, Role.POLICE_ADMIN).get(f"{API}/stats").json()
    s = police["summary"]
    assert (s["settled"], s["tier1"], s["park"], s["share_tier1"], s["share_park"]) == (
        6,
        3,
        5,
        50.0,
        83.3,
    )
    assert [r["total"] for r in police["tables"]["tier"]] == [4, 3, 2]
    last = client_for(known, Role.POLICE_ADMIN).get(f"{API}/stats?year={year - 1}").json()
    assert (last["year"], last["summary"]["total"], last["summary"]["share_tier1"]) == (
        year - 1,
        1,
        100.0,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["year=1999", "year=2101", "year=last"])
def test_statistics_bad_year_is_a_422(world, query):
    response = client_for(world, Role.POLICE_ADMIN).get(f"{API}/stats?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "year"


@pytest.mark.django_db
def test_the_step_actions_are_the_pages(world):
    """The API takes no step of its own: a step name outside the actions' list is not an
    operation at all."""
    client = client_for(world, Role.POLICE_ADMIN)
    case = world.own.dispute
    assert post(client, f"{API}/cases/{case.pk}/reopen").status_code in (404, 405)
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    steps = {p.rsplit("/", 1)[-1] for p in paths if p.startswith(f"{API}/cases/{{pk}}/")}
    assert steps == {*actions.STEPS, "files", "invite"}
