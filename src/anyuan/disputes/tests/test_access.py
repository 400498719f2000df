"""The parties follow their case by code (and QR code) without an account — only their
case; anyone else is refused; wrong codes are throttled. Files: size and type refused,
downloads scoped. The phone-friendly filing form."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from anyuan.core.roles import Role
from anyuan.disputes import actions
from anyuan.disputes.models import Case, CaseAttachment, CaseParty, State
from anyuan.disputes.tests.helpers import make_case, pdf, png
from anyuan.disputes.views import THROTTLE_FAILURES

FOLLOW = "/disputes/follow/"


def filed(world, **data):
    return actions.file_case(
        world.users[Role.ENTERPRISE_ADMIN],
        {"type": "fight", "severity": "minor", "summary": "车间口角", **data},
        [{"name": "王五", "kind": "applicant", "phone": "13912345678"},
         {"name": "赵六", "kind": "respondent"}],
    )  # fmt: skip


@pytest.mark.django_db
def test_party_follows_own_case_by_code(world):
    case, codes = filed(world)
    other, _other_codes = filed(world, summary="另一案")
    party = case.parties.get(name="王五")
    code = codes[party.pk]
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert code.replace("-", "") not in str(CaseParty.objects.filter(pk=party.pk).values().get())
    client = Client()
    r = client.get(FOLLOW, {"code": code})
    assert r.status_code == 303 and r["Location"] == FOLLOW  # the code leaves the address bar
    page = client.get(FOLLOW)
    text = page.content.decode()
    assert page.status_code == 200 and case.number in text
    assert other.number not in text and "另一案" not in text
    assert page["Cache-Control"] == "no-store"
    # typed in lower case with spaces: the same code
    client2 = Client()
    r = client2.post(FOLLOW, {"code": code.lower().replace("-", " ")})
    assert r.status_code == 303 and case.number in client2.get(FOLLOW).content.decode()
    assert CaseParty.objects.get(pk=party.pk).last_visit is not None


@pytest.mark.django_db
def test_anyone_else_is_refused(world):
    case, _codes = filed(world)
    # no code: the form only
    for client in (Client(), Client()):
        text = client.get(FOLLOW).content.decode()
        assert case.number not in text
    logged_in = Client()
    logged_in.force_login(world.users[Role.POLICE_ADMIN])
    assert case.number not in logged_in.get(FOLLOW).content.decode()
    # a wrong or malformed code: refused, nothing about any case
    for bad in ("ABCD-EFGH-JKLM", "x", "", "'; drop table", "2" * 200):
        r = Client().post(FOLLOW, {"code": bad})
        assert r.status_code == 404 and case.number not in r.content.decode()
    # rating without a code
    r = Client().post(FOLLOW, {"satisfaction": "5"})
    assert r.status_code == 403


@pytest.mark.django_db
def test_wrong_codes_are_throttled(world):
    case, codes = filed(world)
    good = next(iter(codes.values()))
    client = Client()
    for _i in range(THROTTLE_FAILURES):
        assert client.post(FOLLOW, {"code": "ABCD-EFGH-JKLM"}).status_code == 404
    r = client.post(FOLLOW, {"code": good})
    assert r.status_code == 429  # even the right code, from this address, for a while
    assert case.number not in r.content.decode()
    other_address = Client(REMOTE_ADDR="10.9.9.9")
    assert other_address.post(FOLLOW, {"code": good}).status_code == 303


@pytest.mark.django_db
def test_a_new_code_replaces_the_old(world):
    case, codes = filed(world)
    party = case.parties.get(name="王五")
    old = codes[party.pk]
    new = actions.reissue_code(world.users[Role.ENTERPRISE_ADMIN], party)
    assert new != old
    assert actions.party_for_code(old) is None
    assert actions.party_for_code(new) == party
    with pytest.raises(Exception):  # noqa: B017 — PermissionDenied
        actions.reissue_code(world.neighbour_users[Role.ENTERPRISE_ADMIN], party)


@pytest.mark.django_db
def test_rating_at_closing_once(world):
    case, codes = filed(world)
    party = case.parties.get(name="王五")
    client = Client()
    client.get(FOLLOW, {"code": codes[party.pk]})
    r = client.post(FOLLOW, {"satisfaction": "5"})
    assert r.status_code == 400  # still reported: not yet
    assert CaseParty.objects.get(pk=party.pk).satisfaction is None
    Case.objects.filter(pk=case.pk).update(state=State.RETURN_VISIT)
    assert client.post(FOLLOW, {"satisfaction": "9"}).status_code == 400
    assert client.post(FOLLOW, {"satisfaction": "4", "comment": "满意"}).status_code == 303
    assert client.post(FOLLOW, {"satisfaction": "1"}).status_code == 400  # once
    case.refresh_from_db()
    assert case.satisfaction == 4.0
    assert CaseParty.objects.get(pk=party.pk).comment == "满意"


@pytest.mark.django_db
def test_case_page_shows_the_codes_once_with_qr(world):
    client = Client()
    client.force_login(world.users[Role.ENTERPRISE_ADMIN])
    r = client.post(
        reverse("disputes:case-add"),
        {"type": "fight", "severity": "minor", "summary": "口角", "people_involved": "2",
         "party_1_name": "王五", "party_1_kind": "applicant", "party_1_phone": "",
         "party_2_name": "", "party_2_kind": "respondent"},
    )  # fmt: skip
    assert r.status_code == 303
    case = Case.objects.get(summary="口角")
    first = client.get(r["Location"]).content.decode()
    assert "<svg" in first and first.count('class="code"') == 1
    code = re.search(r'class="code">([A-Z0-9-]+)<', first).group(1)
    assert actions.party_for_code(code).case == case
    again = client.get(r["Location"]).content.decode()
    assert code not in again and "<svg" not in again


@pytest.mark.django_db
def test_filing_form_on_a_phone_as_informant(world):
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")
    client.force_login(world.users[Role.INFORMANT])
    page = client.get(reverse("disputes:case-add"))
    assert page.status_code == 200 and 'name="viewport"' in page.content.decode()
    assert 'inputmode="tel"' in page.content.decode()
    data = {"type": "wages", "severity": "general", "summary": "班组拖欠加班费",
            "people_involved": "4", "party_1_name": "", "party_1_kind": "applicant"}  # fmt: skip
    r = client.post(reverse("disputes:case-add"), data)
    assert r.status_code == 400 and not Case.objects.filter(summary="班组拖欠加班费").exists()
    data["party_1_name"] = "钱七"
    r = client.post(reverse("disputes:case-add"), {**data, "files": [png()]})
    assert r.status_code == 303
    case = Case.objects.get(summary="班组拖欠加班费")
    assert case.reporter == world.own.colleague and case.tier == 2
    assert case.attachments.get().kind == "evidence"
    assert client.get(r["Location"]).status_code == 200  # informants see their own report


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: pdf("virus.exe", b"MZ\x90\x00"), "Refused file type"),
        (lambda: pdf("fake.pdf", b"<html>not a pdf</html>"), "not a PDF"),
        (lambda: pdf("empty.pdf", b""), "empty"),
    ],
)
def test_bad_files_are_refused(world, upload, message):
    from django.utils import translation

    case = make_case(world, state=State.MEDIATING)
    with translation.override("en"), pytest.raises(actions.ValidationFailed) as e:
        actions.add_attachment(world.users[Role.ENTERPRISE_ADMIN], case, upload())
    assert message in " ".join(e.value.errors["file"])
    assert not case.attachments.exists()


@pytest.mark.django_db
def test_too_large_a_file_is_refused(world, settings, case_files_dir):
    settings.ANYUAN_DISPUTE_FILE_MAX_BYTES = 10
    case = make_case(world, state=State.MEDIATING)
    with pytest.raises(actions.ValidationFailed) as e:
        actions.step(world.users[Role.POLICE_OFFICER], case, "agree", agreement=pdf())
    assert "MB" in e.value.errors["file"][0]
    case.refresh_from_db()
    assert case.state == State.MEDIATING and not case.attachments.exists()
    assert not any(case_files_dir.rglob("*.pdf")) if case_files_dir.exists() else True


@pytest.mark.django_db
def test_bad_file_on_the_page_gives_a_message(world):
    client = Client()
    client.force_login(world.users[Role.ENTERPRISE_ADMIN])
    case = make_case(world, state=State.MEDIATING)
    r = client.post(
        reverse("disputes:case-detail", args=[case.pk]),
        {"step": "attach", "kind": "evidence", "file": pdf("x.gif", b"GIF89a")},
        follow=True,
    )
    assert r.status_code == 200 and "gif" in r.content.decode()
    assert not case.attachments.exists()


@pytest.mark.django_db
def test_download_is_scoped(world):
    case = make_case(world, state=State.MEDIATING)
    row = actions.add_attachment(world.users[Role.ENTERPRISE_ADMIN], case, pdf("证据.pdf"))
    url = reverse("disputes:caseattachment-detail", args=[row.pk])
    own = Client()
    own.force_login(world.users[Role.ENTERPRISE_SECURITY])
    r = own.get(url)
    assert r.status_code == 200 and b"".join(r.streaming_content).startswith(b"%PDF")
    for user in (world.neighbour_users[Role.ENTERPRISE_ADMIN], world.users[Role.EMPLOYEE],
                 world.foreign_users[Role.POLICE_ADMIN], world.users[Role.PARTNER]):  # fmt: skip
        other = Client()
        other.force_login(user)
        assert other.get(url).status_code == 404
    assert Client().get(url).status_code == 302  # sign in first
    assert CaseAttachment.objects.count() >= 1


@pytest.mark.django_db
def test_step_buttons_on_the_page(world):
    client = Client()
    client.force_login(world.users[Role.ENTERPRISE_ADMIN])
    case = make_case(world, state=State.REPORTED, tier=1)
    url = reverse("disputes:case-detail", args=[case.pk])
    page = client.get(url).content.decode()
    assert 'value="accept"' in page and 'value="close"' not in page
    r = client.post(url, {"step": "close"}, follow=True)
    assert Case.objects.get(pk=case.pk).state == State.REPORTED
    assert "message error" in r.content.decode()
    client.post(url, {"step": "accept", "note": "已电话联系"})
    assert Case.objects.get(pk=case.pk).state == State.ACCEPTED
    assert "已电话联系" in client.get(url).content.decode()


@pytest.mark.django_db
def test_the_code_throttle_is_shared_and_counts_the_clients_address_behind_the_proxy(
    world, settings
):
    """The count lives in the database (every web process shares it, not one process's
    memory), and behind the station's proxy it counts the client's address the proxy
    forwarded — not the proxy's, which would lock everyone out, and not one a client wrote
    into X-Forwarded-For itself."""
    from django.core.cache import cache

    from anyuan.core.models import RateCounter

    settings.ANYUAN_TRUSTED_PROXIES = ["127.0.0.1"]
    _case, codes = filed(world)
    good = next(iter(codes.values()))
    # attacker 198.51.100.7 behind the proxy, forging a new address on every try
    for i in range(THROTTLE_FAILURES):
        forged = f"203.0.113.{i}, 198.51.100.7"
        client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forged)
        assert client.post(FOLLOW, {"code": "ABCD-EFGH-JKLM"}).status_code == 404
    cache.clear()  # nothing of the count is in a process's memory
    assert RateCounter.objects.filter(key__contains="198.51.100.7").exists()
    attacker = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert attacker.post(FOLLOW, {"code": good}).status_code == 429
    # another party behind the same proxy is not locked out
    party = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert party.post(FOLLOW, {"code": good}).status_code == 303
