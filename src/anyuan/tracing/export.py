"""A trace run as an XLSX workbook: the question, the index cases' trajectory, the contacts
ranked by exposure and their meetings. Names, enterprises, zones and times — no ID numbers
or phone numbers (``core/spreadsheets.py`` stores every cell as text, never a formula)."""

from django.utils import timezone
from django.utils.translation import gettext as _

from anyuan.core.spreadsheets import xlsx_bytes
from anyuan.tracing.models import TraceRun


def _t(value) -> str:
    return (value or "").replace("T", " ")[:19]


def question_rows(run: TraceRun) -> list[list[str]]:
    r = run.result
    return [
        [_("Trace"), f"#{run.pk}"],
        [_("Run at"), timezone.localtime(run.created).strftime("%Y-%m-%d %H:%M:%S")],
        [_("Run by"), run.user.get_username() if run.user else ""],
        [_("Reason"), run.reason],
        [_("Index cases"), ", ".join(i["name"] for i in r.get("index", []))],
        [_("From"), timezone.localtime(run.window_start).strftime("%Y-%m-%d %H:%M")],
        [_("To"), timezone.localtime(run.window_end).strftime("%Y-%m-%d %H:%M")],
        [_("Rule"), run.get_rule_display()],
        [_("Minimum contact (minutes)"), str(run.minutes)],
        [_("Hops"), str(run.hops)],
        [_("Close contacts"), str(run.contacts)],
        [_("Secondary contacts"), str(run.secondary)],
    ]


def contact_rows(run: TraceRun) -> list[list[str]]:
    rows = [
        [
            _("Hop"), _("Name"), _("Enterprise"), _("First exposure"), _("Exposure (minutes)"),
            _("Met"), _("Where"), _("From"), _("To"), _("Minutes"),
        ]
    ]  # fmt: skip
    for c in run.result.get("contacts", []):
        head = [str(c["hop"]), c["name"], c["enterprise"], _t(c["first_exposure"]),
                str(c["exposure_minutes"])]  # fmt: skip
        meetings = c["meetings"] or [None]
        for m in meetings:
            tail = (
                [m["with"], m["zone"]["name"], _t(m["from"]), _t(m["to"]), str(m["minutes"])]
                if m
                else ["", "", "", "", ""]
            )
            rows.append(head + tail)
    return rows


def trajectory_rows(run: TraceRun) -> list[list[str]]:
    names = {(i["kind"], i["id"]): i["name"] for i in run.result.get("index", [])}
    rows = [[_("Index case"), _("Zone"), _("From"), _("To")]]
    for t in run.result.get("trajectory", []):
        rows.append(
            [
                names.get(tuple(t["subject"]), ""),
                t["zone"]["name"],
                _t(t["from"]),
                _t(t["to"]) or _("inside now"),
            ]
        )
    return rows


def workbook(run: TraceRun) -> bytes:
    return xlsx_bytes(
        (
            (_("Contacts"), contact_rows(run)),
            (_("Trajectory"), trajectory_rows(run)),
            (_("Trace"), question_rows(run)),
        )
    )
