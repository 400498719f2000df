"""Pages of the alert queue: the list (newest activity first) and one alert with its
timeline and the lifecycle buttons. The buttons are plain POST forms to the detail page;
with htmx they swap the alert panel in place."""

from django.apps import apps
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from anyuan.alerts import actions
from anyuan.alerts.models import Alert
from anyuan.core import views as generic
from anyuan.core.actions import ValidationFailed
from anyuan.core.roles import CHANGE


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
