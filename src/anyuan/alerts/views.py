"""Pages of the alert queue: the list (newest activity first) and one alert with its
timeline and the lifecycle buttons. The buttons are plain POST forms to the detail page;
with htmx they swap the alert panel in place.

Rule rows (``/alerts/rules/``) use the generic list, detail, edit and delete views; their
pages add what the rule types do by default and what is in effect for a row."""

import json

from django.apps import apps
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from anyuan.alerts import actions
from anyuan.alerts.api import RULE_FIELDS
from anyuan.alerts.models import Alert
from anyuan.alerts.rules import ALL_DAYS, DEFAULTS, Settings, settings_from
from anyuan.core import views as generic
from anyuan.core.actions import ValidationFailed
from anyuan.core.roles import CHANGE, ENTERPRISE_ROLES


class AlertListView(generic.ObjectListView):
    url_namespace = "alerts"
    template_name = "alerts/alert_list.html"
    columns = ["last_seen", "severity", "type", "title", "zone", "state", "repeat_count"]
    search_fields = ["title", "source_key", "credential"]
    filters = ["state", "type", "severity", "zone"]


def timeline(alert: Alert) -> list[dict]:
    """The alert's history: every audited step and every note, oldest first."""
    AuditEntry = apps.get_model("core.auditentry")
    entries = AuditEntry.objects.filter(object_type="alerts.alert", object_id=str(alert.pk))
    notes = {n.pk: n for n in alert.notes.all()}
    items = []
    noted = set()
    for e in entries.order_by("at", "pk"):
        step = (e.after or {}).get("transition", e.action)
        note = notes.get((e.after or {}).get("note"))
        if note is not None:
            noted.add(note.pk)
        items.append(
            {
                "at": e.at,
                "who": e.actor_name,
                "step": STEP_LABELS.get(step, step),
                "raw": step,
                "state": (e.after or {}).get("state", ""),
                "note": note.text if note is not None else "",
            }
        )
    for note in notes.values():
        if note.pk not in noted:
            items.append(
                {"at": note.at, "who": note.author_name, "step": _("Note"), "raw": "note",
                 "state": "", "note": note.text}
            )  # fmt: skip
    return sorted(items, key=lambda i: i["at"])


STEP_LABELS = {
    "raise": gettext_lazy("Raised"),
    "acknowledge": gettext_lazy("Acknowledged"),
    "dispatch": gettext_lazy("Dispatched"),
    "resolve": gettext_lazy("Resolved"),
    "false_alarm": gettext_lazy("False alarm"),
    "escalate": gettext_lazy("Escalated"),
    "note": gettext_lazy("Note"),
}


class AlertDetailView(generic.ObjectDetailView):
    url_namespace = "alerts"
    template_name = "alerts/alert_detail.html"

    def context(self, **extra):
        context = super().context(**extra)
        alert = extra.get("object")
        if alert is not None:
            can_change = self.queryset(CHANGE).filter(pk=alert.pk).exists()
            sources = {name: s for name, (s, _t) in actions.TRANSITIONS.items()}
            context.update(
                alert=alert,
                timeline=timeline(alert),
                can_change=can_change,
                steps={name: can_change and alert.state in s for name, s in sources.items()},
                candidates=actions.dispatch_candidates(self.request.user, alert)
                if can_change and alert.state in sources["dispatch"]
                else [],
            )
        return context

    def post(self, request, *args, **kwargs):
        alert = self.get_object(CHANGE)
        step = request.POST.get("step", "")
        note = request.POST.get("note", "")
        remote_addr = generic.client_ip(request)
        try:
            if step == "acknowledge":
                actions.acknowledge(request.user, alert, note=note, remote_addr=remote_addr)
            elif step == "dispatch":
                actions.dispatch(
                    request.user, alert, to=request.POST.get("to"), note=note,
                    remote_addr=remote_addr,
                )  # fmt: skip
            elif step == "resolve":
                actions.resolve(request.user, alert, note=note, remote_addr=remote_addr)
            elif step == "false_alarm":
                actions.mark_false_alarm(request.user, alert, note=note, remote_addr=remote_addr)
            elif step == "note":
                actions.add_note(request.user, alert, note, remote_addr=remote_addr)
            else:
                messages.error(request, _("Unknown step."))
        except ValidationFailed as e:
            for msgs in e.errors.values():
                for msg in msgs:
                    messages.error(request, msg)
        except PermissionDenied as e:
            messages.error(request, str(e))
        if generic.is_htmx(request):
            return self.get(request, *args, **kwargs)
        return HttpResponseRedirect(self.url("detail", alert.pk), status=303)


# --- rule rows ---------------------------------------------------------------------------

RULE_PLACES = ("station", "park", "enterprise", "zone")


def _severity_label(value: str) -> str:
    return str(dict(Alert.Severity.choices).get(value, value)) if value else "—"


def _thresholds_text(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else "—"


def _weekdays_text(weekdays: str) -> str:
    if not weekdays:
        return "—"
    if set(weekdays) >= set(ALL_DAYS):
        return _("every day")
    return ", ".join(sorted(set(weekdays)))


def _window_text(start, end) -> str:
    if start is None or end is None:
        return "—"
    return f"{start:%H:%M}–{end:%H:%M}"


def settings_rows(s: Settings) -> dict:
    """A rule type's settings as texts for a page."""
    return {
        "type": s.type,
        "label": dict(Alert.Type.choices).get(s.type, s.type),
        "enabled": _("Yes") if s.enabled else _("No"),
        "severity": _severity_label(s.severity),
        "thresholds": _thresholds_text(s.thresholds),
        "weekdays": _weekdays_text(s.weekdays),
        "window": _window_text(s.time_from, s.time_until),
    }


def default_rows() -> list[dict]:
    return [settings_rows(s) for s in DEFAULTS.values()]


class RuleMixin:
    url_namespace = "alerts"

    def queryset(self, action=None):
        return super().queryset(action).select_related(*RULE_PLACES)


class RuleListView(RuleMixin, generic.ObjectListView):
    template_name = "alerts/rule_list.html"
    columns = [
        "__str__",
        "enabled",
        "severity",
        "thresholds",
        "weekdays",
        "time_from",
        "time_until",
    ]
    search_fields = ["note"]
    filters = ["type", "enabled", "enterprise", "park", "zone"]

    def context(self, **extra):
        return super().context(defaults=default_rows(), **extra)


class RuleDetailView(RuleMixin, generic.ObjectDetailView):
    template_name = "alerts/rule_detail.html"

    def context(self, **extra):
        context = super().context(**extra)
        rule = extra.get("object")
        if rule is not None and rule.type in DEFAULTS:
            default = settings_rows(DEFAULTS[rule.type])
            effective = settings_rows(settings_from(rule, rule.type))
            own = {
                "enabled": _("Yes") if rule.enabled else _("No"),
                "severity": _severity_label(rule.severity),
                "thresholds": _thresholds_text(rule.thresholds),
                "weekdays": _weekdays_text(rule.weekdays),
                "window": _window_text(rule.time_from, rule.time_until)
                if rule.time_from is not None
                else "—",
            }
            labels = {
                "enabled": _("Enabled"),
                "severity": _("Severity"),
                "thresholds": _("Thresholds"),
                "weekdays": _("Weekdays"),
                "window": _("Time window"),
            }
            context["settings"] = [
                {
                    "label": label,
                    "default": default[k],
                    "row": own[k],
                    "effective": effective[k],
                    "code": k == "thresholds",
                }
                for k, label in labels.items()
            ]
        return context


class RuleEditView(RuleMixin, generic.ObjectEditView):
    template_name = "alerts/rule_edit.html"
    fields = RULE_FIELDS

    def form_class(self):
        base = super().form_class()
        user = self.request.user
        enterprise_user = not user.is_superuser and user.role in ENTERPRISE_ROLES

        class RuleForm(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if not user.is_superuser:
                    # one station in reach: chosen already
                    self.fields["station"].empty_label = None
                if enterprise_user:
                    # an enterprise keeps rows of its own: the enterprise is not optional
                    self.fields["enterprise"].required = True
                    self.fields["enterprise"].empty_label = None

            def clean_thresholds(self):
                value = self.cleaned_data.get("thresholds")
                return {} if value in (None, "") else value

        return RuleForm

    def context(self, **extra):
        return super().context(defaults=default_rows(), **extra)
