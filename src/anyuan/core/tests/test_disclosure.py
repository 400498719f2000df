"""What a model's fields disclose (``disclosure`` in :mod:`anyuan.core.personal`): values
derived from personal data, and who reported what.

1. Every field whose name or label suggests derived personal data (a date of birth, an
   age, a sex, a region) or a reporter (reporter, reported by, source, informant ...),
   and every column a personal-data model computes, is declared — derived, police-only,
   or safe with a reason — or the declaration test fails. A new field cannot slip in.
2. With real rows, as the enterprise's users, an employee and a mediation partner, every
   page, every API answer, every export and every live message is searched for the clear
   values (a date of birth, the informant's name): none may appear.
3. The attacks of issue 16: the full ID number from the masked one and the date of birth;
   the employer opening its informant's report; searching, filtering and sorting by a date
   of birth or by the reporter.
"""

import datetime as dt
import io
import json
import re

import openpyxl
import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from anyuan.core import audit, personal
from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.personal import Disclosure, EncryptedField, RowKeyField
from anyuan.core.roles import EXPORT, VIEW, Role, user_can
from anyuan.core.testing import make_id_number
from anyuan.core.tests.test_scoping_matrix import NOT_DATA_PAGES, iter_patterns, view_model
from anyuan.disputes import actions as disputes
from anyuan.disputes.models import Case, CaseTransition, WarningInfo
from anyuan.live.models import LiveMessage
from anyuan.registry.models import Person

# --- 1. the declarations ---------------------------------------------------------------

DERIVED_WORDS = {
    "birth", "born", "birthday", "dob", "age", "sex", "gender", "region", "native",
    "hukou", "ethnic", "ethnicity", "nationality", "province", "hometown", "zodiac",
}  # fmt: skip
DERIVED_ZH = ("出生", "生日", "年龄", "性别", "籍贯", "户籍", "民族", "地区", "省份", "家乡")
REPORTER_WORDS = {"reporter", "informant", "source", "whistleblower", "tipster", "submitter"}
REPORTER_PHRASES = ("reported_by", "submitted_by", "uploaded_by", "filed_by", "informed_by")
REPORTER_ZH = ("上报人", "上报账号", "举报", "来源", "线人", "信息员", "提交人", "上传人")


def project_models():
    return [m for m in apps.get_models() if m.__module__.startswith("anyuan.")]


def fields_of(model):
    return [f for f in model._meta.get_fields() if getattr(f, "concrete", False)]


def looks_derived(field) -> bool:
    tokens = set(field.name.lower().split("_"))
    with translation.override("en"):
        en = str(field.verbose_name).lower()
    with translation.override("zh-hans"):
        zh = str(field.verbose_name)
    words = tokens | set(re.findall(r"[a-z]+", en))
    return bool(words & DERIVED_WORDS) or any(w in zh for w in DERIVED_ZH)


def looks_like_a_reporter(field) -> bool:
    name = field.name.lower()
    tokens = set(name.split("_"))
    with translation.override("en"):
        en = str(field.verbose_name).lower()
    with translation.override("zh-hans"):
        zh = str(field.verbose_name)
    words = tokens | set(re.findall(r"[a-z]+", en))
    phrases = (name, en.replace(" ", "_"))
    return (
        bool(words & REPORTER_WORDS)
        or any(p in text for p in REPORTER_PHRASES for text in phrases)
        or any(w in zh for w in REPORTER_ZH)
    )


def computed(model, field) -> bool:
    """A column the model fills in itself (not typed in, not a timestamp, not a key)."""
    return (
        not field.editable
        and not field.primary_key
        and not isinstance(field, personal.DigestField)
        and not getattr(field, "auto_now", False)
        and not getattr(field, "auto_now_add", False)
    )


def undeclared() -> list[str]:
    """Every field that looks like derived personal data or a reporter and is not
    declared, and every declared name that is not a field of its model."""
    problems = []
    for model in project_models():
        d = personal.disclosure(model)
        declared = set(d.derived) | set(d.police_only) | set(d.safe)
        names = {f.name for f in fields_of(model)}
        for name in declared - names:
            problems.append(f"{model._meta.label}.{name}: declared but no such field")
        for name in set(d.safe) & (set(d.derived) | set(d.police_only)):
            problems.append(f"{model._meta.label}.{name}: declared safe and not safe")
        for name, why in d.safe.items():
            if len(why.strip()) < 10:
                problems.append(f"{model._meta.label}.{name}: say why it is safe")
        holds_personal_data = any(isinstance(f, EncryptedField) for f in fields_of(model))
        for field in fields_of(model):
            if field.name in declared:
                continue
            if isinstance(field, RowKeyField):
                continue  # the encryption's own random binding of a row, derived from nothing
            if looks_derived(field):
                problems.append(
                    f"{model._meta.label}.{field.name}: looks derived from personal data; "
                    "declare it in disclosure.derived (or .safe, with the reason)"
                )
            elif looks_like_a_reporter(field):
                problems.append(
                    f"{model._meta.label}.{field.name}: looks like who reported; declare it "
                    "in disclosure.police_only (or .safe, with the reason)"
                )
            elif holds_personal_data and computed(model, field):
                problems.append(
                    f"{model._meta.label}.{field.name}: computed on a model holding personal "
                    "data; declare it in disclosure.derived (or .safe, with the reason)"
                )
    return problems


def test_every_derived_or_reporter_field_is_declared():
    assert not undeclared(), "\n".join(undeclared())


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (Person, "birth_date"),  # computed from the ID number, and named so
        (Case, "reporter_name"),
        (Case, "reported_by"),
        (WarningInfo, "source"),
        (CaseTransition, "source"),  # "safe" is a declaration too
    ],
)
def test_a_field_without_its_declaration_fails_the_declaration_test(monkeypatch, model, field):
    """What a new, undeclared field would do: the test above names it."""
    d = personal.disclosure(model)
    monkeypatch.setattr(
        model,
        "disclosure",
        Disclosure(
            derived=tuple(n for n in d.derived if n != field),
            police_only=tuple(n for n in d.police_only if n != field),
            police_only_if=d.police_only_if,
            safe={k: v for k, v in d.safe.items() if k != field},
        ),
    )
    assert any(p.startswith(f"{model._meta.label}.{field}:") for p in undeclared())


def test_derived_fields_are_strings_in_every_api_schema():
    """A derived value goes out masked: no response schema gives it as a date or number."""
    schema = Client().get("/api/v1/openapi.json").json()
    derived = set()
    for model in project_models():
        derived |= personal.derived_names(model)
    found = 0
    for name, component in schema["components"]["schemas"].items():
        if name.endswith(("Create", "Patch", "In")):
            continue
        for prop, spec in component.get("properties", {}).items():
            if prop in derived:
                found += 1
                assert spec.get("type") == "string" and "format" not in spec, (name, prop, spec)
    assert found  # Person's birth_date is in PersonOut


# --- 2. the sweep with real rows -------------------------------------------------------

BORN = dt.date(1976, 8, 4)
REPORTER_NAME = "线人王小明"
REPORTER_LOGIN = "whistle7x"
INFORMANT_TITLE = "三车间欠薪两月即将聚集"
LIAISON_TITLE = "警务秘书掌握的内部线索"


@pytest.fixture
def secrets(world):
    """A worker born on 4 August 1976, and the informant's reports: a case (tier 3, a
    partner invited), warning information, and the police liaison's intelligence."""
    s = world
    s.full_id = make_id_number(779, region="360731", born=BORN)
    s.worker = Person.objects.create(
        station=world.home.station,
        enterprise=world.own.enterprise,
        name="OWN 出生测试",
        id_number=s.full_id,
    )
    s.worker.full_clean()
    s.worker.save()
    assert s.worker.birth_date == BORN
    informant = world.users[Role.INFORMANT]
    informant.username, informant.first_name = REPORTER_LOGIN, REPORTER_NAME
    informant.save()
    s.case, _codes = disputes.file_case(
        informant,
        {"type": "wages", "summary": "OWN 欠薪纠纷", "people_involved": 12},
        [{"name": "OWN 申请人", "kind": "applicant"}],
    )
    assert s.case.tier == 3 and s.case.reporter_name == REPORTER_NAME
    disputes.invite_partner(world.users[Role.POLICE_ADMIN], s.case, world.users[Role.PARTNER].pk)
    s.info = disputes.report_warning(informant, {"category": "gathering", "title": INFORMANT_TITLE})
    s.liaison = disputes.report_warning(
        world.users[Role.POLICE_OFFICER],
        {"category": "extreme", "source": "liaison", "title": LIAISON_TITLE,
         "enterprise": world.own.enterprise},
    )  # fmt: skip
    return s


def clear_values(s) -> list[str]:
    """What no enterprise user, employee or partner may read anywhere."""
    return [
        BORN.isoformat(),
        f"{BORN:%Y%m%d}",
        f"{BORN:%Y/%m/%d}",
        s.full_id,
        REPORTER_NAME,
        REPORTER_LOGIN,
        INFORMANT_TITLE,
        LIAISON_TITLE,
    ]


def leaks(text: str, secrets_, url: str = "") -> list[str]:
    # the account pages too: an informant's account is the police's (core.roles.MANAGED_BY),
    # so the users pages, the users API and the audit log's actor filter never name it
    return [v for v in clear_values(secrets_) if v in text]


def login(world, role) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(world.users[role])
    return client


def xlsx_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(
        " ".join("" if c is None else str(c) for c in row)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    )


def body(response) -> str:
    if response.get("Content-Type", "").startswith("application/vnd.openxmlformats"):
        return xlsx_text(
            b"".join(response.streaming_content if response.streaming else [response.content])
        )
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    text = response.content.decode("utf-8", "replace")
    if response.get("Content-Type", "").startswith("application/json"):
        return json.dumps(json.loads(text), ensure_ascii=False)  # "\\u7ebf" is text too
    return text


OUTSIDERS = [Role.ENTERPRISE_SECURITY, Role.ENTERPRISE_ADMIN, Role.EMPLOYEE, Role.PARTNER]


@pytest.mark.django_db
@pytest.mark.parametrize("role", OUTSIDERS, ids=[r.value for r in OUTSIDERS])
def test_no_page_shows_derived_personal_data_or_who_reported(secrets, role):
    s = secrets
    user = s.users[role]
    client = login(s, role)
    problems, pages = [], 0
    for name, route, pattern in iter_patterns():
        if route.startswith(("api/", "admin/")) or name in NOT_DATA_PAGES or not name:
            continue
        params = set(pattern.pattern.converters)
        if not params:
            urls = [reverse(name)]
        elif params == {"pk"} and view_model(pattern) is not None:
            model = view_model(pattern)
            visible = model.objects.restrict(user, VIEW).values_list("pk", flat=True)[:30]
            urls = [reverse(name, kwargs={"pk": pk}) for pk in visible]
        else:
            continue
        for url in urls:
            response = client.get(url)
            pages += 1
            for v in leaks(body(response), s, url):
                problems.append(f"GET {url} as {role} shows {v!r}")
            if url.startswith("/disputes/") and s.case.reporter.name in body(response):
                problems.append(f"GET {url} as {role} names the reporter's person record")
    assert not problems, "\n".join(problems)
    assert pages > 20


@pytest.mark.django_db
@pytest.mark.parametrize("role", OUTSIDERS, ids=[r.value for r in OUTSIDERS])
def test_no_api_answer_gives_derived_personal_data_or_who_reported(secrets, role):
    s = secrets
    user = s.users[role]
    client = login(s, role)
    schema = client.get("/api/v1/openapi.json").json()
    problems, answers = [], 0
    for path, methods in schema["paths"].items():
        op = methods.get("get")
        if op is None:
            continue
        if "{pk}" in path:
            label = op.get("x-anyuan-model")
            model = apps.get_model(label)
            pks = list(model.objects.restrict(user, VIEW).values_list("pk", flat=True)[:30])
            urls = [path.replace("{pk}", str(pk)) for pk in pks]
        elif "{" in path:
            continue
        else:
            urls = [path + "?limit=1000"]
        for url in urls:
            response = client.get(url)
            answers += 1
            text = body(response)
            for v in leaks(text, s, url):
                problems.append(f"GET {url} as {role} gives {v!r}")
            if "/disputes/" in url and s.case.reporter.name in text:
                problems.append(f"GET {url} as {role} names the reporter's person record")
    assert not problems, "\n".join(problems)
    assert answers > 20


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_no_export_gives_derived_personal_data(secrets, fmt):
    s = secrets
    for role in (Role.ENTERPRISE_ADMIN, Role.POLICE_ADMIN):
        client = login(s, role)
        exported = 0
        for name, _route, pattern in iter_patterns():
            if not (name or "").endswith("-export") or pattern.pattern.converters:
                continue
            model = view_model(pattern)
            if model is None or not user_can(s.users[role], model, EXPORT):
                continue
            response = client.get(reverse(name), {"format": fmt})
            assert response.status_code == 200, (name, response.status_code)
            text = body(response)
            assert not [v for v in (BORN.isoformat(), f"{BORN:%Y%m%d}") if v in text], name
            assert s.full_id not in text, name
            exported += 1
        assert exported
    # the workers' export is the export with the ID numbers: masked, with the birth date gone
    response = login(s, Role.ENTERPRISE_ADMIN).get(
        reverse("registry:person-export"), {"format": fmt}
    )
    text = body(response)
    assert personal.mask("id_number", s.full_id) in text
    assert "360731" not in text


@pytest.mark.django_db
def test_an_export_column_of_a_derived_field_is_masked_unless_revealed(secrets, monkeypatch):
    """The exporter consults the declaration for every column, whatever kind declares it."""
    from anyuan.registry import exporting
    from anyuan.registry.importing import Column
    from anyuan.registry.importing.kinds import KINDS

    name, kind = next((n, k) for n, k in KINDS.items() if k.model is Person)
    extra = Column("birth_date", "出生日期", None, export="birth_date")
    monkeypatch.setattr(kind, "columns", [*kind.columns, extra])
    qs = Person.objects.filter(pk=secrets.worker.pk)
    masked = list(exporting.rows(name, qs, actor=secrets.users[Role.ENTERPRISE_ADMIN]))
    revealed = list(exporting.rows(name, qs, reveal=True, actor=secrets.users[Role.POLICE_ADMIN]))
    assert masked[0][-1] == "birth_date"
    assert masked[1][-1] == personal.MASKED
    assert revealed[1][-1] == BORN.isoformat()


@pytest.mark.django_db
def test_no_live_message_to_the_enterprise_says_who_reported(secrets):
    payloads = LiveMessage.objects.filter(enterprise=secrets.own.enterprise).values_list(
        "payload", flat=True
    )
    assert payloads  # the case's filing and invitation were published to the enterprise
    text = json.dumps(list(payloads), ensure_ascii=False)
    assert not leaks(text, secrets)
    assert str(secrets.case.reporter_id) not in [
        str(p.get("reporter")) for p in payloads if isinstance(p, dict)
    ]


@pytest.mark.django_db
def test_a_live_message_carrying_who_reported_cannot_reach_an_enterprise(world):
    from anyuan.live import actions as live

    with pytest.raises(ValueError, match="reporter_name"):
        live.publish("dispute", {"id": 1, "reporter_name": "x"}, station=world.home.station,
                     enterprise=world.own.enterprise)  # fmt: skip
    with pytest.raises(ValueError, match="birth_date"):
        live.publish("person", {"birth_date": "1976-08-04"}, station=world.home.station,
                     enterprise=world.own.enterprise)  # fmt: skip
    # to the police alone it may go
    live.publish("dispute", {"id": 1, "reporter_name": "x"}, station=world.home.station)


@pytest.mark.django_db
def test_audit_snapshots_mask_derived_values_and_keep_reporters_for_the_police(secrets):
    s = secrets
    created = AuditEntry.objects.filter(
        action=AuditAction.CREATE, object_type="disputes.case", object_id=str(s.case.pk)
    ).get()
    assert created.after["reporter_name"] == REPORTER_NAME  # the police's record
    for role in OUTSIDERS:
        shown = audit.disclosed(s.users[role], "disputes.case", created.after)
        assert REPORTER_NAME not in json.dumps(shown, ensure_ascii=False), role
        assert "reporter" not in shown and "reported_by" not in shown
    for role in (Role.POLICE_ADMIN, Role.POLICE_OFFICER):
        assert audit.disclosed(s.users[role], "disputes.case", created.after) == created.after
    assert audit.snapshot(s.worker)["birth_date"] == personal.MASKED_DATE
    # and the outsiders cannot open the audit log at all
    for role in OUTSIDERS:
        client = login(s, role)
        assert client.get(reverse("core:auditentry-detail", args=[created.pk])).status_code in (
            403, 404,
        )  # fmt: skip
        assert client.get(f"/api/v1/audit/entries/{created.pk}").status_code in (403, 404)


@pytest.mark.django_db
def test_the_police_audit_page_shows_the_reporter_and_masks_the_birth_date(secrets):
    s = secrets
    client = login(s, Role.POLICE_ADMIN)
    entry = AuditEntry.objects.get(
        action=AuditAction.CREATE, object_type="disputes.case", object_id=str(s.case.pk)
    )
    assert (
        REPORTER_NAME
        in client.get(reverse("core:auditentry-detail", args=[entry.pk])).content.decode()
    )
    person_entry = audit.record(
        s.users[Role.POLICE_ADMIN], AuditAction.CREATE, s.worker, after=audit.snapshot(s.worker)
    )
    page = client.get(reverse("core:auditentry-detail", args=[person_entry.pk])).content.decode()
    assert BORN.isoformat() not in page and personal.MASKED_DATE in page


# --- 3. the attacks --------------------------------------------------------------------


def id_candidates(masked: str, birth: str) -> list[str]:
    """The attack: the masked number's eight stars are the date of birth."""
    from anyuan.core.identifiers import id_check_digit

    digits = birth.replace("-", "")
    if not re.fullmatch(r"\d{8}", digits) or not re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", masked):
        return []
    body17 = masked[:6] + digits + masked[14:17]
    return [body17 + id_check_digit(body17)] if id_check_digit(body17) == masked[-1] else []


def test_the_masked_id_number_shows_neither_region_nor_birth_date_nor_sex():
    """The region (digits 1–6), the date of birth (7–14) and the sex (17: odd is male) are
    personal data derived from the number: two people who differ in all three mask alike
    when their check characters agree."""
    from anyuan.core.identifiers import id_check_digit

    a17, b17 = "36073119760804779", "11010820010101002"  # Jiangxi man, Beijing woman
    a, b = a17 + id_check_digit(a17), b17 + id_check_digit(b17)
    masked = personal.mask("id_number", a)
    assert masked[-1] == a[-1] and set(masked[:-1]) == {"*"} and len(masked) == 18
    if a[-1] == b[-1]:
        assert personal.mask("id_number", b) == masked
    for part in (a[:6], a[6:14], a[14:17]):
        assert part not in masked


@pytest.mark.django_db
def test_the_full_id_number_cannot_be_put_together_from_the_masked_one(secrets):
    """Issue 16: 360731********7795 beside 1976-08-04 gave the whole number back."""
    s = secrets
    # the attack itself works on the old mask (region, sequence and sex, check character
    # shown) beside a clear date of birth: that is why both are withheld now
    old_mask = s.full_id[:6] + "*" * 8 + s.full_id[-4:]
    assert id_candidates(old_mask, BORN.isoformat()) == [s.full_id]
    client = login(s, Role.ENTERPRISE_SECURITY)
    one = client.get(f"/api/v1/registry/person/{s.worker.pk}").json()
    assert one["id_number"] == personal.mask("id_number", s.full_id)
    assert one["birth_date"] == personal.MASKED_DATE
    assert id_candidates(one["id_number"], one["birth_date"]) == []
    listed = client.get("/api/v1/registry/person", {"limit": 1000}).json()["items"]
    mine = next(p for p in listed if p["id"] == s.worker.pk)
    assert mine["birth_date"] == personal.MASKED_DATE
    page = client.get(reverse("registry:person-detail", args=[s.worker.pk])).content.decode()
    assert personal.mask("id_number", s.full_id) in page and personal.MASKED_DATE in page
    assert not leaks(page, s)
    # nor with the reveal page (enterprise security may not reveal)
    r = client.post(reverse("registry:person-reveal", args=[s.worker.pk]),
                    {"field": "birth_date", "reason": "just checking"})  # fmt: skip
    assert r.status_code in (403, 404) and BORN.isoformat() not in r.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.POLICE_ADMIN, Role.ENTERPRISE_ADMIN])
def test_the_date_of_birth_is_revealed_with_a_reason_and_audited(secrets, role):
    s = secrets
    client = login(s, role)
    url = f"/api/v1/registry/person/{s.worker.pk}/reveal"
    r = client.post(url, json.dumps({"field": "birth_date", "reason": ""}),
                    content_type="application/json")  # fmt: skip
    assert r.status_code == 422
    r = client.post(url, json.dumps({"field": "birth_date", "reason": "核对年龄 (age check)"}),
                    content_type="application/json")  # fmt: skip
    assert r.status_code == 200, r.content
    assert r.json() == {"field": "birth_date", "value": BORN.isoformat()}
    entry = AuditEntry.objects.get(action=AuditAction.REVEAL)
    assert (entry.actor, entry.after, entry.reason) == (
        s.users[role], {"field": "birth_date"}, "核对年龄 (age check)",
    )  # fmt: skip
    page = client.get(reverse("registry:person-detail", args=[s.worker.pk])).content.decode()
    assert f"{reverse('registry:person-reveal', args=[s.worker.pk])}?field=birth_date" in page


def person_names(response) -> list[str]:
    if response["Content-Type"].startswith("application/json"):
        return [p["name"] for p in response.json()["items"]]
    return re.findall(r"OWN [^<]+", response.content.decode())


@pytest.mark.django_db
def test_sorting_and_filtering_by_the_date_of_birth_tells_nothing(secrets):
    """Binary search on a birth date through ordering or filters: every answer is the
    same as without them."""
    s = secrets
    Person.objects.create(
        station=s.home.station, enterprise=s.own.enterprise, name="OWN 年轻人",
        id_number=make_id_number(780, born=dt.date(2004, 2, 2)),
    ).save()  # fmt: skip
    client = login(s, Role.ENTERPRISE_SECURITY)
    page = reverse("registry:person-list")
    plain = person_names(client.get(page))
    assert "OWN 出生测试" in plain
    for query in (
        {"sort": "birth_date"}, {"sort": "-birth_date"}, {"birth_date": BORN.isoformat()},
        {"birth_date__gte": "1980-01-01"}, {"birth_date__lt": "1980-01-01"},
    ):  # fmt: skip
        assert person_names(client.get(page, query)) == plain, query
    api = "/api/v1/registry/person"
    plain = person_names(client.get(api, {"limit": 1000}))
    for query in ({"birth_date": BORN.isoformat()}, {"ordering": "-birth_date"},
                  {"order_by": "birth_date"}, {"birth_date__gte": "1980-01-01"}):  # fmt: skip
        assert person_names(client.get(api, {"limit": 1000, **query})) == plain, query
    # a birth date typed into the search finds nobody
    for q in (BORN.isoformat(), f"{BORN:%Y%m%d}", "1976"):
        assert person_names(client.get(api, {"limit": 1000, "q": q})) == [], q
        assert "OWN 出生测试" not in client.get(page, {"q": q}).content.decode(), q


@pytest.mark.django_db
def test_a_list_page_declaring_the_date_of_birth_still_does_not_sort_or_filter_by_it(secrets):
    """The mechanism, not the page's declaration, decides: a future list page that puts
    the date of birth in its columns, filters and search shows it masked and ignores it."""
    from anyuan.registry.views import list_view

    s = secrets
    Person.objects.create(
        station=s.home.station, enterprise=s.own.enterprise, name="OWN 年轻人",
        id_number=make_id_number(781, born=dt.date(2004, 2, 2)),
    ).save()  # fmt: skip

    base = list_view(Person)
    careless = type("CarelessPersonList", (base,), {
        "columns": [*base.columns, "birth_date"],
        "filters": [*base.filters, "birth_date", "birth_date__gte"],
        "search_fields": [*base.search_fields, "birth_date"],
    })  # fmt: skip
    view = careless.as_view(model=Person)
    factory = RequestFactory()

    def get(**query):
        request = factory.get("/registry/person/", query)
        request.user = s.users[Role.ENTERPRISE_SECURITY]
        request.session = {}
        request._messages = []
        response = view(request)
        response.render() if hasattr(response, "render") else None
        return response.content.decode()

    plain = get()
    assert personal.MASKED_DATE in plain and BORN.isoformat() not in plain
    names = re.findall(r"OWN [^<]+", plain)
    for query in ({"sort": "birth_date"}, {"sort": "-birth_date"},
                  {"birth_date": BORN.isoformat()}, {"birth_date__gte": "2000-01-01"}):  # fmt: skip
        assert re.findall(r"OWN [^<]+", get(**query)) == names, query
    assert "OWN 出生测试" not in get(q="1976")  # the search does not look at it
    assert 'name="birth_date' not in plain  # no filter input for it


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.ENTERPRISE_SECURITY, Role.ENTERPRISE_ADMIN])
def test_the_employer_opening_its_informants_report_does_not_learn_who_reported(secrets, role):
    """Issue 16: "Reported by informant · Reporter <name>" on the warning report's page."""
    s = secrets
    client = login(s, role)
    # the informant's warning and the police's intelligence are not the enterprise's to see
    for row in (s.info, s.liaison):
        assert client.get(row.get_absolute_url()).status_code == 404
        assert client.get(f"/api/v1/disputes/information/{row.pk}").status_code == 404
    listed = body(client.get("/api/v1/disputes/information", {"limit": 1000}))
    assert INFORMANT_TITLE not in listed and LIAISON_TITLE not in listed
    # filtering by source tells nothing either
    for source in ("informant", "liaison", "officer"):
        r = client.get("/api/v1/disputes/information", {"source": source})
        assert r.json()["items"] == [], source
    # the case the informant filed is the enterprise's to mediate, but not who filed it
    page = client.get(s.case.get_absolute_url())
    assert page.status_code == 200 and s.case.number in page.content.decode()
    assert not leaks(page.content.decode(), s)
    api = client.get(f"/api/v1/disputes/cases/{s.case.pk}").json()
    assert api["reporter_name"] == ""
    assert api["history"][0]["name"] == "report" and api["history"][0]["actor_name"] == ""
    # searching the case list by the informant's name finds nothing
    found = client.get(reverse("disputes:case-list"), {"q": REPORTER_NAME}).content.decode()
    assert s.case.number not in found
    assert s.case.number in client.get(reverse("disputes:case-list")).content.decode()


@pytest.mark.django_db
def test_the_police_and_the_informant_see_who_reported(secrets):
    s = secrets
    police = login(s, Role.POLICE_OFFICER)
    page = police.get(s.info.get_absolute_url()).content.decode()
    assert INFORMANT_TITLE in page and s.case.reporter.name in page
    api = police.get(f"/api/v1/disputes/cases/{s.case.pk}").json()
    assert api["reporter_name"] == REPORTER_NAME
    assert api["history"][0]["actor_name"] == REPORTER_LOGIN
    assert REPORTER_NAME in police.get(s.case.get_absolute_url()).content.decode()
    informant = login(s, Role.INFORMANT)
    assert (
        informant.get(f"/api/v1/disputes/information/{s.info.pk}").json()["source"] == "informant"
    )
    assert REPORTER_NAME in informant.get(s.case.get_absolute_url()).content.decode()
    # the handlers' names stay in the history for everyone who sees the case
    disputes.step(s.users[Role.POLICE_OFFICER], s.case, "accept")
    partner = login(s, Role.PARTNER).get(f"/api/v1/disputes/cases/{s.case.pk}").json()
    names = {h["name"]: h["actor_name"] for h in partner["history"]}
    assert names["report"] == "" and names["accept"] == "police_officer"


def test_who_reported_is_withheld_from_an_unknown_caller():
    """A schema filled in without a request answers as for the least privileged."""
    from anyuan.disputes.api import CaseOut

    case = Case(id=1, number="X-1", station_id=1, type="wages", summary="x", reporter_name="某人")
    assert CaseOut.model_validate(case).reporter_name == ""
    assert personal.sees_reporters(AnonymousUser()) is False


@pytest.mark.django_db
def test_snapshots_written_before_the_declaration_are_masked_by_the_migration(world):
    import importlib

    migration = importlib.import_module(
        "anyuan.core.migrations.0005_mask_derived_personal_data_in_audit_snapshots"
    )
    old = AuditEntry.objects.create(
        actor_name="police_admin", action=AuditAction.UPDATE, object_type="registry.person",
        object_id="1", before={"birth_date": "1976-08-04", "name": "甲"},
        after={"birth_date": "1985-05-05"},
    )  # fmt: skip
    other = AuditEntry.objects.create(
        actor_name="x", action=AuditAction.UPDATE, object_type="registry.vehicle",
        after={"birth_date": "kept: not a person"},
    )  # fmt: skip
    migration.mask(apps, None)
    old.refresh_from_db()
    other.refresh_from_db()
    assert old.before == {"birth_date": personal.MASKED_DATE, "name": "甲"}
    assert old.after == {"birth_date": personal.MASKED_DATE}
    assert other.after == {"birth_date": "kept: not a person"}
