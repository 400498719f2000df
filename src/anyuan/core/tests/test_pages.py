"""The registry's web pages: list, detail, edit, reveal and home, as the people who use
them see them (in Chinese, the default)."""

import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.roles import Role
from anyuan.core.testing import make_credit_code, make_id_number, make_phone

PASSWORD = "Pages-test-2026!"


@pytest.fixture(autouse=True)
def chinese():
    call_command("compiletranslations", verbosity=0)
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):  # reload catalogues
        yield


def user(username, role, **place):
    from anyuan.accounts.models import User

    u = User(username=username, role=role, **place)
    u.set_password(PASSWORD)
    u.full_clean(exclude=["password"])
    u.save()
    return u


@pytest.fixture
def park(db):
    """One station, two enterprises in two grids, people, a zone, a device, a vehicle;
    a second station whose rows no page of the first may show."""
    from anyuan.registry import models as m

    s = SimpleNamespace()
    s.station = m.Station.objects.create(name="滨海派出所", code="BH", hotline="0574-110")
    s.park = m.Park.objects.create(station=s.station, name="滨海工业园")
    s.north = m.PoliceGrid.objects.create(station=s.station, name="北区警格", position=1)
    s.south = m.PoliceGrid.objects.create(station=s.station, name="南区警格", position=2)
    s.agency = m.LabourAgency.objects.create(
        station=s.station, name="顺达劳务", credit_code=make_credit_code(501)
    )
    s.acme = m.Enterprise.objects.create(
        station=s.station,
        park=s.park,
        grid=s.north,
        name="甬江精密机械",
        credit_code=make_credit_code(502),
        risk_level="high",
    )
    s.beta = m.Enterprise.objects.create(
        station=s.station,
        park=s.park,
        grid=s.south,
        name="北仑物流",
        credit_code=make_credit_code(503),
    )
    s.zone = m.Zone.objects.create(
        park=s.park, name="一号车间", ring="production", kind="workshop", enterprise=s.acme
    )
    s.device = m.Device.objects.create(zone=s.zone, name="东门闸机", kind="gate", serial="G-001")
    s.id_number = make_id_number(77)
    s.wang = m.Person.objects.create(
        station=s.station,
        enterprise=s.acme,
        name="王建国",
        id_number=s.id_number,
        phone=make_phone(77),
    )
    s.li = m.Person.objects.create(
        station=s.station,
        enterprise=s.beta,
        name="李秀英",
        kind="temporary",
        labour_agency=s.agency,
        id_number=make_id_number(78),
    )
    s.vehicle = m.Vehicle.objects.create(
        station=s.station, plate="浙B12345", enterprise=s.acme, owner=s.wang
    )
    other = m.Station.objects.create(name="远方派出所", code="YF")
    s.far = m.Enterprise.objects.create(
        station=other, name="远方外地公司", credit_code=make_credit_code(504)
    )
    s.police = user("officer_zhang", Role.POLICE_ADMIN, station=s.station)
    s.acme_admin = user("acme_admin", Role.ENTERPRISE_ADMIN, enterprise=s.acme)
    s.employee = user("wang", Role.EMPLOYEE, person=s.wang)
    return s


def login(u):
    client = Client()
    client.force_login(u)
    return client


def text(response) -> str:
    return response.content.decode()


KINDS = ["enterprise", "person", "zone", "device", "vehicle"]


@pytest.mark.parametrize("kind", KINDS)
def test_list_detail_and_edit_pages_render_in_chinese(park, kind):
    client = login(park.police)
    obj = {
        "enterprise": park.acme,
        "person": park.wang,
        "zone": park.zone,
        "device": park.device,
        "vehicle": park.vehicle,
    }[kind]
    verbose = {"enterprise": "企业", "person": "人员", "zone": "区域", "device": "设备"}
    verbose["vehicle"] = "车辆"

    listing = client.get(f"/registry/{kind}/")
    assert listing.status_code == 200
    page = text(listing)
    assert 'lang="zh-Hans"' in page
    assert f"<h1>{verbose[kind]}</h1>" in page
    assert "搜索" in page and "新增" in page
    label = getattr(obj, "name", None) or str(obj)
    assert label in page
    assert "远方" not in page  # another station's rows

    detail = client.get(f"/registry/{kind}/{obj.pk}/")
    assert detail.status_code == 200
    assert "编辑" in text(detail)
    assert str(obj) in text(detail)

    edit = client.get(f"/registry/{kind}/{obj.pk}/edit/")
    assert edit.status_code == 200
    assert "保存" in text(edit)
    assert 'class="req"' in text(edit)  # required fields are marked

    add = client.get(f"/registry/{kind}/add/")
    assert add.status_code == 200
    assert f"新增{verbose[kind]}" in text(add)


def test_a_bad_credit_code_is_shown_next_to_its_field_and_nothing_is_written(park):
    from anyuan.registry.models import Enterprise

    client = login(park.police)
    count = Enterprise.objects.count()
    response = client.post(
        "/registry/enterprise/add/",
        {
            "station": park.station.pk,
            "name": "新办企业",
            "credit_code": "91330206MA2AAAAAA1",
            "headcount": "10",
            "risk_level": "low",
        },
    )
    assert response.status_code == 400
    page = text(response)
    field = re.search(r'<div class="field[^"]*invalid[^"]*">(.*?)</div>', page, re.S)
    assert field is not None
    assert "统一社会信用代码" in field.group(1)  # the label of the field in error
    assert "校验位不正确" in field.group(1) or "不正确" in field.group(1)
    assert "请更正下方标出的错误" in page
    assert Enterprise.objects.count() == count

    # a change with a bad code leaves the stored row as it was
    before = park.acme.credit_code
    response = client.post(
        f"/registry/enterprise/{park.acme.pk}/edit/",
        {
            "station": park.station.pk,
            "name": "改名",
            "credit_code": "123",
            "headcount": "1",
            "risk_level": "low",
        },
    )
    assert response.status_code == 400
    assert "统一社会信用代码应为 18 位" in text(response)
    park.acme.refresh_from_db()
    assert park.acme.credit_code == before
    assert park.acme.name == "甬江精密机械"


def test_search_finds_a_person_by_id_number_without_showing_or_sending_it(park):
    client = login(park.police)
    # the form posts; the answer sends the browser to an address without the ID number
    posted = client.post("/registry/person/", {"q": park.id_number.lower()})
    assert posted.status_code == 303
    location = posted["Location"]
    assert park.id_number not in location.upper()
    assert "qh" in parse_qs(urlsplit(location).query)

    page = client.get(location)
    assert page.status_code == 200
    body = text(page)
    assert "王建国" in body
    assert "李秀英" not in body
    assert park.id_number not in body
    assert "*" * 17 + park.id_number[-1:] in body  # the masked chip

    # typed into the address by hand: moved out of it the same way
    direct = client.get("/registry/person/", {"q": park.id_number})
    assert direct.status_code == 303
    assert park.id_number not in direct["Location"]

    # an ID number nobody has finds nobody; a forged hash finds nobody
    nobody = client.post("/registry/person/", {"q": make_id_number(999)}, follow=True)
    assert "王建国" not in text(nobody)
    forged = client.get("/registry/person/", {"qh": "id_number." + "0" * 64})
    assert "王建国" not in text(forged) and "李秀英" not in text(forged)

    # an ordinary search stays in the address and matches names
    by_name = client.post("/registry/person/", {"q": "秀英"}, follow=True)
    assert "李秀英" in text(by_name) and "王建国" not in text(by_name)


def test_filters_narrow_the_list(park):
    client = login(park.police)
    everyone = text(client.get("/registry/person/"))
    assert "王建国" in everyone and "李秀英" in everyone

    acme = text(client.get("/registry/person/", {"enterprise": park.acme.pk}))
    assert "王建国" in acme and "李秀英" not in acme
    assert "企业: 甬江精密机械" in acme  # the active filter, named

    temporary = text(client.get("/registry/person/", {"kind": "temporary"}))
    assert "李秀英" in temporary and "王建国" not in temporary

    north = text(client.get("/registry/enterprise/", {"grid": park.north.pk}))
    assert "甬江精密机械" in north and "北仑物流" not in north

    garbage = client.get("/registry/enterprise/", {"hazardous_chemicals": "maybe"})
    assert garbage.status_code == 200
    assert "甬江精密机械" not in text(garbage)

    # another station's enterprise as a filter value shows nothing of it
    foreign = text(client.get("/registry/person/", {"enterprise": park.far.pk}))
    assert "远方外地公司" not in foreign and "王建国" not in foreign


def test_filter_choices_are_scoped(park):
    police = text(login(park.police).get("/registry/person/"))
    select = re.search(r'<select name="enterprise".*?</select>', police, re.S).group(0)
    assert "甬江精密机械" in select and "北仑物流" in select
    assert "远方外地公司" not in select

    own = text(login(park.acme_admin).get("/registry/person/"))
    select = re.search(r'<select name="enterprise".*?</select>', own, re.S).group(0)
    assert "甬江精密机械" in select
    assert "北仑物流" not in select


def test_pagination_keeps_the_query(park):
    from anyuan.registry.models import Person

    for i in range(60):
        Person.objects.create(
            station=park.station,
            enterprise=park.acme,
            name=f"测试员{i:02d}",
            id_number=make_id_number(100 + i),
        )
    client = login(park.police)
    page = text(client.get("/registry/person/", {"enterprise": park.acme.pk}))
    assert "共 62 条，符合条件 61 条" in page
    link = re.search(r'href="(\?[^"]*page=2[^"]*)"', page).group(1).replace("&amp;", "&")
    assert parse_qs(link[1:]) == {"enterprise": [str(park.acme.pk)], "page": ["2"]}
    second = text(client.get("/registry/person/" + link))
    assert "第 2 / 2 页" in second
    assert "李秀英" not in second


def test_sorting_by_a_column(park):
    client = login(park.police)
    page = text(client.get("/registry/enterprise/", {"sort": "-name"}))
    assert page.index("甬江精密机械") < page.index("北仑物流")
    page = text(client.get("/registry/enterprise/", {"sort": "name"}))
    assert page.index("北仑物流") < page.index("甬江精密机械")
    # a personal-data column is not sortable (its stored form is ciphertext)
    page = text(client.get("/registry/person/"))
    assert "sort=id_number" not in page


def test_detail_masks_personal_data_and_links_related_lists(park):
    client = login(park.police)
    page = text(client.get(f"/registry/person/{park.wang.pk}/"))
    assert park.id_number not in page
    assert "*" * 17 + park.id_number[-1:] in page
    assert "查看明文" in page
    assert f"/registry/person/{park.wang.pk}/reveal/?field=id_number" in page

    enterprise = text(client.get(f"/registry/enterprise/{park.acme.pk}/"))
    for kind in ("person", "zone", "vehicle"):
        assert f"/registry/{kind}/?enterprise={park.acme.pk}" in enterprise
    people = re.search(
        rf'href="/registry/person/\?enterprise={park.acme.pk}"><span>人员</span><b>(\d+)</b>',
        enterprise,
    )
    assert people is not None and people.group(1) == "1"
    # a new person for this enterprise: the form starts with it chosen
    assert f"/registry/person/add/?enterprise={park.acme.pk}" in enterprise
    form = text(client.get(f"/registry/person/add/?enterprise={park.acme.pk}"))
    assert f'<option value="{park.acme.pk}" selected>' in form
    # and the audit trail of the record, for those who may read the audit log
    assert f"object_type=registry.enterprise&amp;object_id={park.acme.pk}" in enterprise

    grid = text(client.get(f"/registry/policegrid/{park.north.pk}/"))
    assert f"/registry/enterprise/?grid={park.north.pk}" in grid


def test_inline_reveal_with_htmx_and_the_plain_page_without(park):
    client = login(park.police)
    url = f"/registry/person/{park.wang.pk}/reveal/"

    fragment = client.get(url, {"field": "id_number"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "<html" not in text(fragment)
    assert 'name="reason"' in text(fragment)
    assert park.id_number not in text(fragment)

    no_reason = client.post(url, {"field": "id_number", "reason": ""}, HTTP_HX_REQUEST="true")
    assert park.id_number not in text(no_reason)
    assert "请说明查看原因" in text(no_reason)
    assert not AuditEntry.objects.filter(action=AuditAction.REVEAL).exists()

    shown = client.post(url, {"field": "id_number", "reason": "核查身份"}, HTTP_HX_REQUEST="true")
    assert shown.status_code == 200
    assert "<html" not in text(shown)
    assert park.id_number in text(shown)
    assert "no-store" in shown["Cache-Control"]
    entry = AuditEntry.objects.get(action=AuditAction.REVEAL)
    assert entry.reason == "核查身份"

    # without JavaScript: a page of its own
    page = client.get(url, {"field": "phone"})
    assert "<html" in text(page) and "为什么需要查看明文" in text(page)
    shown = client.post(url, {"field": "phone", "reason": "联系本人"})
    assert make_phone(77) in text(shown) and "<html" in text(shown)


def test_landing_sends_watchers_to_the_dashboard_and_others_to_the_overview(park):
    assert login(park.police).get("/")["Location"] == "/dashboard/"
    assert login(park.acme_admin).get("/")["Location"] == "/dashboard/"
    assert login(park.employee).get("/")["Location"] == "/overview/"
    assert login(park.employee).get("/dashboard/")["Location"] == "/overview/"


def test_home_page_per_role(park):
    police = text(login(park.police).get("/overview/"))
    assert "滨海派出所" in police
    assert "各警格企业分布" in police
    assert "北区警格" in police and "南区警格" in police
    assert re.search(r"<b>2</b><span>企业</span>", police)  # two enterprises, not three
    assert re.search(r"<b>1</b><span>高风险</span>", police)
    assert "远方" not in police

    own = text(login(park.acme_admin).get("/overview/"))
    assert "甬江精密机械" in own and "本企业" in own
    assert re.search(r"<b>1</b><span>人员</span>", own)  # only its own person
    assert "北仑物流" not in own and "李秀英" not in own

    mine = text(login(park.employee).get("/overview/"))
    assert "我的信息" in mine and "王建国" in mine
    assert "浙B12345" in mine  # own vehicle
    assert park.id_number not in mine
    assert "李秀英" not in mine


def test_locked_fields_are_read_only_for_the_enterprise(park):
    page = text(login(park.acme_admin).get(f"/registry/enterprise/{park.acme.pk}/edit/"))
    risk = re.search(r'<select name="risk_level"[^>]*>', page).group(0)
    assert "disabled" in risk
    headcount = re.search(r'<input type="number" name="headcount"[^>]*>', page).group(0)
    assert "disabled" not in headcount


def test_login_page_is_branded_and_warns_of_the_lockout(park):
    client = Client()
    page = text(client.get("/accounts/login/"))
    assert "安园 · 平安园区" in page
    failed = client.post("/accounts/login/", {"username": "officer_zhang", "password": "wrong"})
    assert failed.status_code == 200
    body = text(failed)
    assert "连续 5 次登录失败，账号将被锁定 15 分钟" in body
    assert "还可尝试 4 次" in body


def test_pages_work_without_javascript(park):
    """No page depends on a script: forms post, links are links, the menu is CSS."""
    page = text(login(park.police).get("/registry/person/"))
    assert re.search(r'<form method="post" action="/registry/person/"', page)
    assert 'id="nav-toggle"' in page and 'for="nav-toggle"' in page
    assert "https://" not in page and "http://" not in page  # nothing from outside


def test_many_to_many_values_on_a_detail_page_are_scoped(park):
    from anyuan.registry.models import AccessGroup

    group = AccessGroup.objects.create(station=park.station, enterprise=park.acme, name="东门组")
    group.members.add(park.wang, park.li)  # 李秀英 works for another enterprise
    police = text(login(park.police).get(f"/registry/accessgroup/{group.pk}/"))
    assert "王建国" in police and "李秀英" in police
    own = text(login(park.acme_admin).get(f"/registry/accessgroup/{group.pk}/"))
    assert "王建国" in own
    assert "李秀英" not in own


def test_a_user_page_never_shows_the_password_hash(park):
    page = text(login(park.police).get(f"/accounts/users/{park.acme_admin.pk}/"))
    assert "acme_admin" in page
    assert park.acme_admin.password not in page
    assert "pbkdf2" not in page and "argon2" not in page


def list_pages():
    """(url name, model) of every list page."""
    from django.urls import URLResolver, get_resolver

    for top in get_resolver().url_patterns:
        if isinstance(top, URLResolver) and top.namespace in ("registry", "accounts", "core"):
            for p in top.url_patterns:
                if getattr(p, "name", "") and p.name.endswith("-list"):
                    kwargs = getattr(p.callback, "view_initkwargs", {}) or {}
                    model = kwargs.get("model") or p.callback.view_class.model
                    yield f"{top.namespace}:{p.name}", model


@pytest.mark.parametrize(
    "role", [Role.POLICE_ADMIN, Role.ENTERPRISE_ADMIN, Role.EMPLOYEE], ids=lambda r: r.value
)
def test_every_list_and_detail_page_renders(world, role):
    """Each kind's list, and the detail and edit page of the first row the role sees."""
    from django.urls import NoReverseMatch, reverse

    from anyuan.core.roles import CHANGE, VIEW, user_can

    me = world.users[role]
    client = login(me)
    details = 0
    for name, model in list_pages():
        if not user_can(me, model, VIEW):
            continue
        assert client.get(reverse(name)).status_code == 200, name
        obj = model.objects.restrict(me, VIEW).first()
        if obj is None:
            continue
        base = name.removesuffix("-list")
        detail = client.get(reverse(f"{base}-detail", args=[obj.pk]))
        assert detail.status_code == 200, (name, detail.status_code)
        details += 1
        if model.objects.restrict(me, CHANGE).filter(pk=obj.pk).exists():
            try:
                edit = reverse(f"{base}-edit", args=[obj.pk])
            except NoReverseMatch:
                continue
            assert client.get(edit).status_code == 200, name
    assert details >= 3


def test_not_found_and_not_allowed_pages_speak_chinese(park):
    client = login(park.employee)
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    body = text(missing)
    assert "找不到" in body and 'href="/"' in body and "<nav" in body  # the menu stays
    refused = client.get("/events/occupancy/")
    assert refused.status_code == 403
    assert "无权" in text(refused)
