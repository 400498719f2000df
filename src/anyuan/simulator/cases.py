"""A realistic flow of dispute cases and police incidents for a loaded park, so that the
dispute and incident pages and tiles show real numbers. Deterministic per seed (and the
day it is anchored to).

- Disputes: the last ``days`` days, 0–3 cases a day across the station's enterprises,
  filed and walked through their steps by the real actions (``anyuan.disputes.actions``)
  at simulated times — most settled in the tier they were routed to, some escalated
  first, a few referred or withdrawn; recent cases are still open. Informants of the
  enterprise are the reporters where there are any. One enterprise has a run of unpaid-
  wages cases within a week (the group-incident warning). Settled cases carry a
  mediation agreement (a small generated PDF) and most parties rate the mediation.
  Finally the time limits are checked (``deadlines.run``): what is overdue is escalated.
- Incidents: two years of 警情 up to the anchor day, fewer this year than last (the
  figures go down year on year, as the police like to show), imported through the
  incident importer as a CSV export would be.

``anyuan demo`` calls :func:`add_cases` once, after loading the park.
"""

import csv
import datetime as dt
import io
import random

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
         "超", "秀英", "霞", "平", "刚", "桂英", "建华", "建国", "海燕", "志强", "小红", "春梅"]  # fmt: skip
SUMMARIES = {
    "wages": ["拖欠加班费", "克扣工资", "工资结算争议", "计件工资核算纠纷", "离职工资未结清"],
    "fight": ["车间口角引发推搡", "排班争执动手", "食堂排队冲突", "宿舍楼下斗殴苗头"],
    "contract": ["劳动合同续签争议", "试用期解除争议", "劳务派遣合同纠纷", "工伤待遇争议"],
    "dormitory": ["宿舍噪音扰民", "宿舍卫生矛盾", "室友物品丢失争执", "宿舍调整不满"],
    "family": ["夫妻同厂吵架", "婚恋纠纷", "家庭经济纠纷"],
    "other": ["电动车充电占位纠纷", "借款纠纷", "停车位争执"],
}
TYPES = list(SUMMARIES)
TYPE_WEIGHTS = [30, 18, 10, 22, 8, 12]
SEVERITIES = ["minor", "general", "serious", "major"]
SEVERITY_WEIGHTS = [35, 50, 12, 3]
INCIDENT_CATEGORIES = ["theft", "fraud", "dispute", "fight", "traffic", "fire", "other"]
INCIDENT_WORDS = {"theft": "盗窃", "fraud": "诈骗", "dispute": "纠纷", "fight": "打架斗殴",
                  "traffic": "交通", "fire": "火灾", "other": "其他"}  # fmt: skip
# incidents per month in the whole station, last year; this year is ~25% lower
INCIDENT_RATE = {"theft": 6, "fraud": 3, "dispute": 5, "fight": 2, "traffic": 3, "fire": 0.4,
                 "other": 2}  # fmt: skip
AGREEMENT_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _name(rng) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _poisson(rng, mean: float) -> int:
    # Knuth; means here are small
    import math

    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _local(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute,
                       tzinfo=timezone.get_current_timezone())  # fmt: skip


def add_cases(*, seed: int = 2026, days: int = 120, today: dt.date | None = None,
              station=None, only_if_empty: bool = True, now=None) -> dict:  # fmt: skip
    """Add the flow of disputes and incidents to ``station`` (default: the first one).
    Returns counts; nothing is added if cases exist already (``only_if_empty``)."""
    from anyuan.disputes.models import Case
    from anyuan.registry.models import Enterprise, Informant, Station

    if only_if_empty and Case.objects.exists():
        return {"cases": 0, "incidents": 0}
    station = station or Station.objects.order_by("pk").first()
    if station is None:
        return {"cases": 0, "incidents": 0}
    now = now or timezone.now()
    today = today or timezone.localtime(now).date()
    rng = random.Random(f"anyuan-cases-{seed}")
    enterprises = list(Enterprise.objects.filter(station=station).order_by("pk"))
    if not enterprises:
        return {"cases": 0, "incidents": 0}
    informants: dict[int, list] = {}
    for inf in (
        Informant.objects.filter(person__station=station).select_related("person").order_by("pk")
    ):
        informants.setdefault(inf.person.enterprise_id, []).append(inf)
    cases = _disputes(rng, station, enterprises, informants, today, days, now)
    incidents = _incidents(rng, station, enterprises, today)
    return {"cases": cases, "incidents": incidents}


def _plan(rng, enterprises, today, days):
    """(time, enterprise, type, severity, people, threats, gathering) of every case."""
    plan = []
    for back in range(days, 0, -1):
        day = today - dt.timedelta(days=back - 1)
        weekend = day.weekday() >= 5
        for _i in range(
            rng.choices([0, 1, 2, 3], [45, 35, 15, 5] if not weekend else [70, 25, 5, 0])[0]
        ):
            plan.append((
                _local(day, rng.randint(8, 20), rng.randint(0, 59)),
                rng.choice(enterprises),
                rng.choices(TYPES, TYPE_WEIGHTS)[0],
                rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0],
                rng.choices([2, 3, 4, 6], [75, 12, 8, 5])[0],
                rng.random() < 0.06,
                False,
            ))  # fmt: skip
    # a run of unpaid wages in one enterprise within a week, ending a few days ago
    target = enterprises[rng.randrange(len(enterprises))]
    start = today - dt.timedelta(days=6)
    for k in range(4):
        day = start + dt.timedelta(days=k + (k // 2))
        plan.append((_local(day, 9 + k, 10 * k), target, "wages", "general", 3 + k, False, k == 3))
    plan.sort(key=lambda p: p[0])
    return plan


def _disputes(rng, station, enterprises, informants, today, days, now) -> int:
    from anyuan.accounts.models import User
    from anyuan.core.roles import Role
    from anyuan.core.system import SYSTEM
    from anyuan.disputes import actions, deadlines
    from anyuan.disputes.models import Case, CaseParty, State

    partner = User.objects.filter(role=Role.PARTNER, station=station).order_by("pk").first()
    made = 0
    for at, enterprise, type_, severity, people, threats, gathering in _plan(
        rng, enterprises, today, days
    ):
        zone = enterprise.zones.filter(kind="workshop").order_by("pk").first()
        parties = [
            {"name": _name(rng), "kind": "applicant"},
            {"name": _name(rng), "kind": "respondent"},
        ]
        if people > 3 and rng.random() < 0.5:
            parties.append({"name": _name(rng), "kind": "other"})
        with transaction.atomic():
            case, _codes = actions.file_case(
                SYSTEM,
                {"type": type_, "severity": severity, "summary": rng.choice(SUMMARIES[type_]),
                 "people_involved": people, "threats": threats, "gathering": gathering,
                 "enterprise": enterprise.pk, "zone": zone.pk if zone else None,
                 "description": "信息员报告，已初步了解情况。"},
                parties, at=at,
            )  # fmt: skip
            reporters = informants.get(enterprise.pk) or []
            if reporters:
                informant = reporters[rng.randrange(len(reporters))]
                Case.objects.filter(pk=case.pk).update(
                    reporter=informant.person, reporter_name=informant.person.name
                )
            _walk(rng, actions, case, at, now, State)
            made += 1
            case.refresh_from_db()
            if partner is not None and case.tier == 3:
                actions.invite_partner(SYSTEM, case, partner)
            if case.state in actions.RATABLE:
                for party in CaseParty.objects.filter(case=case):
                    if rng.random() < 0.8:
                        actions.rate(party, rng.choices([3, 4, 5], [15, 40, 45])[0])
    deadlines.run(now)
    return made


def _walk(rng, actions, case, at, now, State):
    """Take the case's steps whose simulated time has come."""
    from anyuan.core.system import SYSTEM

    outcome = rng.choices(["settle", "escalate", "refer", "withdraw"], [72, 18, 5, 5])[0]
    t = at + dt.timedelta(hours=rng.uniform(1, 20))

    def due(step, hours_min, hours_max):
        nonlocal t
        t = t + dt.timedelta(hours=rng.uniform(hours_min, hours_max))
        return t <= now

    if t > now:
        return
    actions.step(SYSTEM, case, "accept", note="已联系双方当事人", at=t)
    if outcome == "escalate" and case.tier < 3:
        if not due("escalate", 6, 40):
            return
        actions.step(SYSTEM, case, "escalate", note="本级调解未果，提交上一级", at=t)
        if not due("accept", 1, 20):
            return
        actions.step(SYSTEM, case, "accept", note="上级受理", at=t)
    if outcome in ("refer", "withdraw"):
        if not due(outcome, 10, 60):
            return
        if outcome == "refer":
            actions.step(SYSTEM, case, "refer", note="引导申请劳动仲裁",
                         to=rng.choice(["arbitration", "court", "police"]), at=t)  # fmt: skip
        else:
            actions.step(SYSTEM, case, "withdraw", note="当事人自行和解，撤回", at=t)
        return
    if not due("mediate", 2, 24):
        return
    actions.step(SYSTEM, case, "mediate", note="组织双方调解", at=t)
    if not due("agree", 8, 60):
        return
    agreement = SimpleUploadedFile("调解协议书.pdf", AGREEMENT_PDF, content_type="application/pdf")
    actions.step(SYSTEM, case, "agree", note="双方签订调解协议", agreement=agreement, at=t)
    if not due("visit", 48, 150):
        return
    actions.step(SYSTEM, case, "visit", note="回访：协议已履行", at=t)
    if not due("close", 4, 30):
        return
    actions.step(SYSTEM, case, "close", note="结案", at=t)


def _incidents(rng, station, enterprises, today) -> int:
    from anyuan.core.system import SYSTEM
    from anyuan.incidents import importing

    rows = []
    first = dt.date(today.year - 2, today.month, 1)
    day = first
    seq = 0
    while day <= today:
        trend = 0.75 if day.year == today.year else 1.0
        for category in INCIDENT_CATEGORIES:
            mean = INCIDENT_RATE[category] * trend / 30.4
            for _i in range(_poisson(rng, mean)):
                seq += 1
                enterprise = rng.choice(enterprises) if rng.random() < 0.7 else None
                rows.append([
                    f"JQ{day:%Y%m%d}{seq:05d}", INCIDENT_WORDS[category],
                    f"{day:%Y-%m-%d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
                    (enterprise.address or enterprise.name) if enterprise else "园区道路",
                    enterprise.name if enterprise else "", "",
                    "是" if rng.random() < 0.6 else "否", "",
                ])  # fmt: skip
        day += dt.timedelta(days=1)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["警情编号", "类别", "发生时间", "地点", "企业", "警格", "是否破案", "简要案情"]
    )
    writer.writerows(rows)
    result = importing.import_file(
        SYSTEM, "simulated.csv", out.getvalue().encode(), station=station
    )
    return result["created"] + result["updated"]
