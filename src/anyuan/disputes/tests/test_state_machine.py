"""Every step of a case from every state: allowed ones move it (with who, when, note),
refused ones say why and change nothing; routing; who may take a step; scoping."""

import pytest
from django.core.exceptions import PermissionDenied

from anyuan.core.actions import ValidationFailed
from anyuan.core.models import AuditEntry
from anyuan.core.roles import Role
from anyuan.disputes import actions, routing
from anyuan.disputes.models import (
    ENDABLE,
    ESCALATABLE,
    Case,
    CaseAttachment,
    CaseTransition,
    State,
)
from anyuan.disputes.tests.helpers import make_case, pdf

S = State
ALLOWED = {
    "accept": ({S.REPORTED, S.ESCALATED}, S.ACCEPTED),
    "mediate": ({S.ACCEPTED}, S.MEDIATING),
    "agree": ({S.MEDIATING}, S.AGREEMENT),
    "visit": ({S.AGREEMENT}, S.RETURN_VISIT),
    "close": ({S.RETURN_VISIT}, S.CLOSED),
    "escalate": (set(ESCALATABLE), S.ESCALATED),
    "refer": (set(ENDABLE), S.REFERRED),
    "withdraw": (set(ENDABLE), S.WITHDRAWN),
}
PAIRS = [(name, state) for name in actions.STEPS for state in S.values]


def kwargs_for(name):
    return {
        "note": "已联系双方" if name != "close" else "",
        "to": "arbitration" if name == "refer" else "",
        "agreement": pdf() if name == "agree" else None,
    }


def snapshot(case):
    case = Case.objects.get(pk=case.pk)
    return (
        case.state,
        case.tier,
        CaseTransition.objects.filter(case=case).count(),
        AuditEntry.objects.filter(object_type="disputes.case", object_id=str(case.pk)).count(),
        CaseAttachment.objects.filter(case=case).count(),
    )


def test_the_table_covers_every_step():
    assert set(ALLOWED) == set(actions.STEPS)
    assert sum(s in ALLOWED[n][0] for n, s in PAIRS) == sum(len(v[0]) for v in ALLOWED.values())


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "source"), [(n, s) for n, s in PAIRS if s in ALLOWED[n][0]])
def test_allowed_step(world, name, source):
    officer = world.users[Role.POLICE_OFFICER]
    case = make_case(world, state=source, tier=1)
    result = actions.step(officer, case, name, **kwargs_for(name))
    case.refresh_from_db()
    assert result.state == case.state == ALLOWED[name][1]
    t = CaseTransition.objects.filter(case=case).latest("pk")
    assert (t.name, t.source, t.target, t.actor, t.actor_name) == (
        name, source, case.state, officer, officer.username,
    )  # fmt: skip
    assert t.note == kwargs_for(name)["note"]
    audit = AuditEntry.objects.filter(object_type="disputes.case", object_id=str(case.pk)).latest(
        "pk"
    )
    assert audit.after["transition"] == name and audit.actor == officer
    if name == "escalate":
        assert case.tier == 2 and case.due_close is not None and case.due_contact is not None
    if name == "agree":
        assert case.settled_tier == 1 and case.attachments.filter(kind="agreement").count() == 1
    if name in ("refer", "withdraw", "close"):
        assert case.closed_at is not None
    if name == "refer":
        assert case.referred_to == "arbitration"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "source"), [(n, s) for n, s in PAIRS if s not in ALLOWED[n][0]])
def test_refused_step_changes_nothing(world, name, source):
    officer = world.users[Role.POLICE_OFFICER]
    case = make_case(world, state=source, tier=1)
    before = snapshot(case)
    with pytest.raises(actions.TransitionRefused) as refused:
        actions.step(officer, case, name, **kwargs_for(name))
    assert "cannot be" in str(refused.value.message) or "不能" in str(refused.value.message)
    assert snapshot(case) == before


@pytest.mark.django_db
def test_refusal_message_is_clear_in_english(world, settings):
    from django.utils import translation

    case = make_case(world, state=S.CLOSED)
    with translation.override("en"), pytest.raises(actions.TransitionRefused) as refused:
        actions.step(world.users[Role.POLICE_OFFICER], case, "accept")
    assert refused.value.message == "This case is Closed; it cannot be accepted now."


@pytest.mark.django_db
@pytest.mark.parametrize("source", ESCALATABLE)
def test_no_escalation_above_tier_3(world, source):
    case = make_case(world, state=source, tier=3)
    before = snapshot(case)
    with pytest.raises(actions.TransitionRefused):
        actions.step(world.users[Role.POLICE_OFFICER], case, "escalate", note="升级")
    assert snapshot(case) == before


@pytest.mark.django_db
def test_agreement_needs_the_signed_agreement(world):
    case = make_case(world, state=S.MEDIATING)
    before = snapshot(case)
    with pytest.raises(ValidationFailed) as e:
        actions.step(world.users[Role.POLICE_OFFICER], case, "agree")
    assert "agreement" in e.value.errors
    assert snapshot(case) == before
    # evidence is no agreement
    actions.add_attachment(world.users[Role.POLICE_OFFICER], case, pdf("photo.pdf"), "evidence")
    with pytest.raises(ValidationFailed):
        actions.step(world.users[Role.POLICE_OFFICER], case, "agree")
    assert Case.objects.get(pk=case.pk).state == S.MEDIATING


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "extra", "field"),
    [
        ("escalate", {}, "note"),
        ("withdraw", {}, "note"),
        ("refer", {"note": "转仲裁"}, "to"),
        ("refer", {"note": "转仲裁", "to": "nowhere"}, "to"),
        ("fly", {"note": "x"}, "step"),
        ("accept", {"note": "a\x00b"}, "note"),
    ],
)
def test_bad_input_is_refused(world, name, extra, field):
    case = make_case(world, state=S.MEDIATING)
    before = snapshot(case)
    with pytest.raises(ValidationFailed) as e:
        actions.step(world.users[Role.POLICE_OFFICER], case, name, **extra)
    assert field in e.value.errors
    assert snapshot(case) == before


@pytest.mark.django_db
def test_a_whole_mediation(world):
    officer = world.users[Role.POLICE_OFFICER]
    case = make_case(world, state=S.REPORTED, tier=1)
    for name in ("accept", "mediate", "agree", "visit", "close"):
        actions.step(officer, case, name, **kwargs_for(name))
    case.refresh_from_db()
    assert case.state == S.CLOSED and case.settled_tier == 1
    steps = list(case.transitions.values_list("name", flat=True))
    assert steps == ["accept", "mediate", "agree", "visit", "close"]


# --- routing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "tier"),
    [
        ({"type": "fight", "severity": "minor"}, 1),
        ({"type": "dormitory", "severity": "general"}, 1),
        ({"type": "family", "severity": "general"}, 1),
        ({"type": "wages", "severity": "minor"}, 2),
        ({"type": "contract", "severity": "general"}, 2),
        ({"type": "fight", "severity": "serious"}, 2),
        ({"type": "fight", "severity": "minor", "threats": True}, 2),
        ({"type": "fight", "severity": "minor", "people_involved": 3}, 2),
        ({"type": "fight", "severity": "major"}, 3),
        ({"type": "wages", "severity": "general", "gathering": True}, 3),
        ({"type": "wages", "severity": "general", "people_involved": 12}, 3),
        ({"type": "fight", "severity": "minor", "no_enterprise": True}, 3),
    ],
)
def test_routing(kw, tier):
    enterprise = None if kw.pop("no_enterprise", False) else object()
    assert routing.route(enterprise=enterprise, **kw) == tier


@pytest.mark.django_db
def test_filing_routes_and_sets_the_limits(world):
    case, codes = actions.file_case(
        world.users[Role.ENTERPRISE_ADMIN],
        {"type": "wages", "severity": "general", "summary": "拖欠工资"},
        [{"name": "张三", "kind": "applicant"}],
    )
    assert case.tier == 2 and case.state == S.REPORTED
    assert case.enterprise == world.own.enterprise and case.grid == world.home.grid
    assert case.due_contact < case.due_close
    assert case.transitions.get().name == "report"
    assert list(codes) == [case.parties.get().pk]


# --- who may take a step -------------------------------------------------------------------


@pytest.mark.django_db
def test_enterprise_handles_tiers_1_and_2_only(world):
    admin = world.users[Role.ENTERPRISE_ADMIN]
    case = make_case(world, state=S.REPORTED, tier=1)
    actions.step(admin, case, "accept")
    actions.step(admin, case, "escalate", note="车间调解不成")
    actions.step(admin, case, "accept")
    actions.step(admin, case, "escalate", note="企业调解不成")
    case.refresh_from_db()
    assert case.tier == 3
    with pytest.raises(PermissionDenied):
        actions.step(admin, case, "accept")
    assert actions.available_steps(admin, case) == []


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.INFORMANT, Role.EMPLOYEE, Role.PARTNER])
def test_others_take_no_step(world, role):
    case = make_case(world, state=S.REPORTED, tier=3)
    with pytest.raises(PermissionDenied):
        actions.step(world.users[role], case, "accept")
    assert Case.objects.get(pk=case.pk).state == S.REPORTED


@pytest.mark.django_db
def test_neighbours_case_is_out_of_reach(world):
    with pytest.raises(PermissionDenied):
        actions.step(world.users[Role.ENTERPRISE_ADMIN], world.neighbour.dispute, "accept")
    with pytest.raises(PermissionDenied):
        actions.step(world.foreign_users[Role.POLICE_ADMIN], world.own.dispute, "accept")


@pytest.mark.django_db
def test_invited_partner_works_on_the_tier_3_case(world):
    police, partner = world.users[Role.POLICE_OFFICER], world.users[Role.PARTNER]
    case = make_case(world, state=S.ESCALATED, tier=2)
    with pytest.raises(actions.TransitionRefused):
        actions.invite_partner(police, case, partner)  # tier 2: not yet
    assert not Case.objects.restrict(partner).filter(pk=case.pk).exists()
    actions.step(police, case, "escalate", note="重大")
    actions.invite_partner(police, case, partner)
    assert list(Case.objects.restrict(partner)) == [case]
    actions.step(partner, case, "accept", note="司法所受理")
    assert Case.objects.get(pk=case.pk).state == S.ACCEPTED
    other = make_case(world, state=S.REPORTED, tier=3)
    with pytest.raises(PermissionDenied):
        actions.step(partner, other, "accept")
    with pytest.raises(PermissionDenied):
        actions.invite_partner(world.users[Role.ENTERPRISE_ADMIN], case, partner)


# --- scoping -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_scoping(world):
    own, neighbour, foreign = world.own.dispute, world.neighbour.dispute, world.foreign.dispute
    seen = {role: set(Case.objects.restrict(user)) for role, user in world.users.items()}
    assert seen[Role.POLICE_ADMIN] == seen[Role.POLICE_OFFICER] == {own, neighbour}
    assert seen[Role.ENTERPRISE_ADMIN] == seen[Role.ENTERPRISE_SECURITY] == {own}
    assert seen[Role.INFORMANT] == seen[Role.EMPLOYEE] == seen[Role.PARTNER] == set()
    assert foreign not in seen[Role.POLICE_ADMIN]
    mine, _codes = actions.file_case(
        world.users[Role.INFORMANT],
        {"type": "dormitory", "severity": "minor", "summary": "宿舍噪音"},
        [{"name": "李四"}],
    )
    assert set(Case.objects.restrict(world.users[Role.INFORMANT])) == {mine}
    assert mine.reporter == world.own.colleague and mine.enterprise == world.own.enterprise
    assert set(Case.objects.restrict(world.users[Role.EMPLOYEE])) == set()
