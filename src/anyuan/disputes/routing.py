"""Which tier a new case goes to, and the time limits of each tier.

Routing: the first tier that fits the case's type, severity and risk of escalation —
simple quarrels stay in the workshop (tier 1), wages and contracts need the enterprise's
management (tier 2), serious cases, threats or several people go at least to tier 2, and
major cases, a group gathering or a crowd go to the police-enterprise office (tier 3). A
case in no enterprise (a park-shared place) has no workshop or manager: tier 3.

Time limits, in working days of the business calendar (:mod:`anyuan.disputes.workdays`):
a first contact by the tier, and a result (an agreement, a referral) — per tier, and per
type where a type needs another. ``ANYUAN_DISPUTE_LIMITS`` overrides entries of
``LIMITS`` (``{tier: {"contact": n, "result": n, "types": {type: n}}}``).
"""

from django.conf import settings

from anyuan.disputes.models import DisputeType, Severity, Tier

T = DisputeType

# the lowest tier each type may be settled in
TYPE_TIER = {
    T.WAGES: Tier.ENTERPRISE,
    T.CONTRACT: Tier.ENTERPRISE,
    T.FIGHT: Tier.WORKSHOP,
    T.DORMITORY: Tier.WORKSHOP,
    T.FAMILY: Tier.WORKSHOP,
    T.OTHER: Tier.WORKSHOP,
}
SEVERITY_TIER = {
    Severity.MINOR: Tier.WORKSHOP,
    Severity.GENERAL: Tier.WORKSHOP,
    Severity.SERIOUS: Tier.ENTERPRISE,
    Severity.MAJOR: Tier.OFFICE,
}
SEVERAL_PEOPLE = 3  # this many people involved: at least tier 2
CROWD = 10  # this many: tier 3


def route(*, type: str, severity: str, people_involved: int = 2, threats: bool = False,
          gathering: bool = False, enterprise=None) -> int:  # fmt: skip
    """The first tier that fits."""
    if enterprise is None or gathering or people_involved >= CROWD:
        return Tier.OFFICE
    tier = max(TYPE_TIER.get(type, Tier.WORKSHOP), SEVERITY_TIER.get(severity, Tier.WORKSHOP))
    if threats or people_involved >= SEVERAL_PEOPLE:
        tier = max(tier, Tier.ENTERPRISE)
    return int(tier)


# working days: first contact ("24 h" is one working day) and result, per tier
LIMITS = {
    Tier.WORKSHOP: {"contact": 1, "result": 3, "types": {}},
    Tier.ENTERPRISE: {"contact": 1, "result": 7, "types": {T.FIGHT: 3}},
    Tier.OFFICE: {"contact": 1, "result": 15, "types": {T.WAGES: 10}},
}


def limits(tier: int, type: str) -> tuple[int, int]:
    """(working days to the first contact, working days to a result)."""
    table = {int(k): dict(v) for k, v in LIMITS.items()}
    for k, v in settings.ANYUAN_DISPUTE_LIMITS.items():
        table.setdefault(int(k), {"contact": 1, "result": 7, "types": {}}).update(v)
    entry = table[int(tier)]
    return int(entry["contact"]), int(entry.get("types", {}).get(type, entry["result"]))


def remind_hours() -> int:
    return int(settings.ANYUAN_DISPUTE_REMIND_HOURS)
