"""Objects of the disputes and incidents apps for the shared ``world`` test fixture
(``anyuan/conftest.py``): one of each per enterprise, named with the enterprise's label so
the scoping matrix sees a leak. No file is written (an attachment names a file only)."""

import datetime as dt


def add_world_objects(tenant, e, label: str) -> None:
    from anyuan.disputes.models import (
        Case,
        CaseAttachment,
        CaseParty,
        CaseTransition,
        GroupWarning,
        WarningInfo,
    )
    from anyuan.incidents.models import Incident

    at = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    e.dispute = Case.objects.create(
        number=f"{label}-JF-1",
        station=tenant.station,
        enterprise=e.enterprise,
        grid=tenant.grid,
        zone=e.zone,
        type="wages",
        summary=f"{label} 纠纷",
        reported_at=at,
        reporter_name=f"{label} 信息员",
        tier=2,
    )
    e.dispute_party = CaseParty.objects.create(case=e.dispute, name=f"{label} 当事人")
    e.dispute_file = CaseAttachment.objects.create(
        case=e.dispute, name=f"{label}.pdf", file=f"world/{label}.pdf",
        content_type="application/pdf", size=10,
    )  # fmt: skip
    CaseTransition.objects.create(
        case=e.dispute, name="report", target="reported", actor_name=f"{label} 信息员"
    )
    e.group_warning = GroupWarning.objects.create(
        station=tenant.station, enterprise=e.enterprise, type="wages", reason="cluster",
        first_at=at, last_at=at, case_count=1,
    )  # fmt: skip
    e.group_warning.cases.add(e.dispute)
    e.warning_info = WarningInfo.objects.create(
        station=tenant.station, enterprise=e.enterprise, category="wage_arrears",
        source="liaison", title=f"{label} 预警信息",
    )  # fmt: skip
    e.incident = Incident.objects.create(
        station=tenant.station, number=f"{label}-JQ-1", category="theft", occurred_at=at,
        enterprise=e.enterprise, grid=tenant.grid, place=f"{label} 仓库",
    )  # fmt: skip
