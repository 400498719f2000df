"""Pages of the event log: passages and device alarms, newest event time first; and of
what the processor keeps from it: who is inside each zone now (occupancy, the muster
list and its CSV export) and a person's or vehicle's trajectory.

The log is read-only for everyone: rows come only from devices (see ``actions.py``). The
presence pages use the query functions of ``queries.py`` (scoped, set-based).
"""

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from ninja.errors import ValidationError

from anyuan.core import scheduler, supervisor
from anyuan.core import views as generic
from anyuan.core.roles import CHANGE, EXPORT, SITE_SERVICES, VIEW, user_can
from anyuan.events import actions, queries
from anyuan.events.models import DeviceLink, Direction, Method, Presence, Quarantine, SubjectKind
from anyuan.registry.models import Device, Person, Vehicle, Zone


class PassageListView(generic.ObjectListView):
    url_namespace = "events"
    columns = ["event_time", "device", "zone", "direction", "method", "credential", "received_time"]
    search_fields = ["credential", "device_event_id"]
    filters = ["device", "zone", "direction", "method"]


class DeviceAlarmListView(generic.ObjectListView):
    url_namespace = "events"
    columns = ["event_time", "device", "zone", "kind", "state", "received_time"]
    search_fields = ["device_event_id"]
    filters = ["device", "zone", "kind", "state"]


class EventDetailView(generic.ObjectDetailView):
    url_namespace = "events"


# --- presences: occupancy, muster lists, trajectories ----------------------------------------


class PresencePage(LoginRequiredMixin, View):
    """A page built on presences: signed in, and presences may be viewed at all."""

    model = None  # what the id in the address is (the scoping test reads it)
    action = VIEW

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            queries.require(request.user, self.action)
        return super().dispatch(request, *args, **kwargs)


SUBJECT_LABELS = dict(SubjectKind.choices)


class OccupancyView(PresencePage):
    """Every zone in reach with who is inside now; each leads to its muster list. With
    htmx the table reloads itself as the live push reports entries and exits."""

    model = Presence
    template_name = "events/occupancy.html"
    panel_template_name = "events/_occupancy_panel.html"

    def get(self, request, *args, **kwargs):
        zones, _totals = queries.occupancy_rows(request.user, "")
        htmx = generic.is_htmx(request)
        response = render(
            request,
            self.panel_template_name if htmx else self.template_name,
            {
                "zones": zones,
                "inside": sum(z["inside"] for z in zones),
                "at": timezone.now(),
                "panel_url": request.path,
                "htmx": htmx,
            },
        )
        add_never_cache_headers(response)
        return response


class DeviceStatusView(LoginRequiredMixin, View):
    """Every device in reach with its state now — online, silent (nothing heard for
    three heartbeat intervals), never heard, switched off — when it was last heard and
    whether its clock is off; silent ones first. Filter: ``?status=``. Reloads itself
    every 30 s with htmx."""

    model = Device
    template_name = "events/device_status.html"
    panel_template_name = "events/_device_status_panel.html"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and not (
            user_can(user, Device, VIEW) and user_can(user, DeviceLink, VIEW)
        ):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        user = request.user
        rows, counts = queries.device_states(user)
        status = request.GET.get("status", "")
        if status in queries.DEVICE_STATUS_LABELS:
            rows = [r for r in rows if r["status"] == status]
        else:
            status = ""
        htmx = generic.is_htmx(request)
        response = render(
            request,
            self.panel_template_name if htmx else self.template_name,
            {
                "rows": rows,
                "counts": [
                    {"status": k, "label": label, "count": counts.get(k, 0)}
                    for k, label in queries.DEVICE_STATUS_LABELS.items()
                ],
                "status": status,
                "total": sum(counts.values()),
                "at": timezone.now(),
                "panel_url": request.get_full_path(),
                # the platform's own health, for those who may see it
                "site": site_state() if user_can(user, SITE_SERVICES, VIEW) else None,
                "set_aside": queries.quarantine_rows(user)
                .filter(state=Quarantine.State.HELD)
                .count()
                if user_can(user, Quarantine, VIEW)
                else None,
            },
        )
        add_never_cache_headers(response)
        return response


SERVICE_LABELS = {
    "web": gettext_lazy("Web server"),
    "process": gettext_lazy("Event processor"),
    "scheduler": gettext_lazy("Scheduler"),
    "live": gettext_lazy("Simulator (demo)"),
}
SERVICE_STATES = {
    supervisor.RUNNING: gettext_lazy("Running"),
    supervisor.BACKOFF: gettext_lazy("Backing off, restarting"),
    supervisor.STOPPING: gettext_lazy("Stopping"),
    supervisor.STOPPED: gettext_lazy("Stopped"),
    supervisor.DONE: gettext_lazy("Finished"),
}


def _when(value):
    return datetime.datetime.fromisoformat(value) if value else None


def site_state() -> dict:
    """What ``anyuan site`` last wrote of its services (``anyuan.core.supervisor``), for
    the page: ``found`` false when no supervisor runs here (the services may run under
    systemd units of their own)."""
    state = supervisor.read_state()
    jobs = scheduler.job_states()  # the scheduler's jobs: their state is in the database
    if state is None:
        return {"found": False, "services": [], "jobs": jobs}
    head = state["supervisor"]
    services = []
    for s in state["services"]:
        services.append(
            {
                **s,
                "label": SERVICE_LABELS.get(s["name"], s["name"]),
                "state_label": SERVICE_STATES.get(s["state"], s["state"]),
                "since": _when(s.get("since")),
                "last_exit_at": _when(s.get("last_exit_at")),
            }
        )
    return {
        "found": True,
        "running": head.get("state") == supervisor.RUNNING and not head["stale"],
        "stale": head["stale"],
        "silent_s": head["silent_s"],
        "host": head.get("host", ""),
        "started": _when(head.get("started")),
        "updated": _when(head.get("updated")),
        "services": services,
        "jobs": jobs,
    }


class MusterView(PresencePage):
    """A zone's muster list: who is inside it or a zone below it now, the counts per
    sub-zone, and the CSV download. With htmx the panel reloads itself every 30 s."""

    model = Zone
    template_name = "events/muster.html"
    panel_template_name = "events/_muster_panel.html"

    def get(self, request, *args, **kwargs):
        user = request.user
        zone = queries.visible_zone(user, self.kwargs["pk"])
        zones, totals = queries.occupancy_rows(user, zone.path)
        rows = queries.muster_values(user, zone)
        for z in zones:
            z["indent"] = z["depth"] - zone.depth
        for r in rows:
            r["subject_label"] = SUBJECT_LABELS.get(r["subject_kind"], r["subject_kind"])
        this = next((z for z in zones if z["id"] == zone.pk), None)
        context = {
            "zone": zone,
            "zone_url": zone.get_absolute_url(),
            "capacity": this["capacity"] if this else None,
            "inside": totals[zone.pk],
            "sub_zones": [z for z in zones if z["id"] != zone.pk],
            "depth": zone.depth,
            "rows": rows,
            "at": timezone.now(),
            "csv_url": reverse("events:muster-csv", args=[zone.pk])
            if user_can(user, Presence, EXPORT)
            else None,
            "xlsx_url": reverse("events:muster-xlsx", args=[zone.pk])
            if user_can(user, Presence, EXPORT)
            else None,
            "panel_url": request.path,
        }
        template = self.panel_template_name if generic.is_htmx(request) else self.template_name
        response = render(request, template, context)
        add_never_cache_headers(response)
        return response


class MusterCsvView(PresencePage):
    """The muster list as CSV (``fmt = "xlsx"``: as XLSX): an export (permission
    checked, audited)."""

    model = Zone
    fmt = "csv"

    def get(self, request, *args, **kwargs):
        zone = queries.visible_zone(request.user, self.kwargs["pk"])
        file = queries.muster_file(
            request.user, zone, self.fmt, remote_addr=generic.client_ip(request)
        )
        response = HttpResponse(file.body, content_type=file.content_type)
        response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
        add_never_cache_headers(response)
        return response


class WindowForm(forms.Form):
    from_ = forms.DateTimeField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    to = forms.DateTimeField(
        label=gettext_lazy("To"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def add_prefix(self, field_name):
        # the address says from= and to=, like the API ("from" is no Python name)
        return "from" if field_name == "from_" else super().add_prefix(field_name)

    def _check(self, name):
        try:
            return queries.aware(self.cleaned_data.get(name))
        except ValueError as e:
            raise forms.ValidationError(str(e)) from None

    def clean_from_(self):
        return self._check("from_")

    def clean_to(self):
        return self._check("to")


def local_input(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else ""


class TrajectoryView(PresencePage):
    """A person's or vehicle's presences and passages in a time window (default: the last
    24 hours, at most 31 days)."""

    model = Person
    kind = "person"
    template_name = "events/trajectory.html"

    def get(self, request, *args, **kwargs):
        user = request.user
        subject, passages_of = queries.subject_of(user, self.kind, self.kwargs["pk"])
        form = WindowForm(request.GET)
        result, status = None, 200
        if form.is_valid():
            try:
                start, end = queries.window(form.cleaned_data["from_"], form.cleaned_data["to"])
            except ValidationError as e:
                for err in e.errors:
                    field = "from_" if err["loc"][-1] == "from" else "to"
                    form.add_error(field, err["msg"])
            else:
                result = queries.trajectory(user, subject, passages_of, start, end)
                form = WindowForm({"from": local_input(start), "to": local_input(end)})
                form.is_valid()
        if not form.is_valid():
            status = 400
        if result is not None:
            for item in result["items"]:
                item["direction_label"] = DIRECTION_LABELS.get(item["direction"], "")
                item["method_label"] = METHOD_LABELS.get(item["method"], item["method"])
        model = Person if self.kind == "person" else Vehicle
        subject_url = reverse(f"registry:{model._meta.model_name}-detail", args=[subject["id"]])
        timeline = None
        if result is not None:
            timeline = timeline_of(result["items"], start, end)
        return render(
            request,
            self.template_name,
            {
                "subject": subject,
                "subject_url": subject_url,
                "kind_label": model._meta.verbose_name,
                "form": form,
                "result": result,
                "timeline": timeline,
                "limit": queries.TRAJECTORY_LIMIT,
            },
            status=status,
        )


def timeline_of(items: list[dict], start, end) -> dict:
    """The stays of a trajectory as bars for the timeline chart (``trajectory.js``): zone,
    from, to (an open stay runs to the window's end; an exit without entry is a mark at
    its exit), in ISO times; the zones in order of first visit."""
    zones: list[str] = []
    stays = []
    now = timezone.now()
    for item in items:
        if item["kind"] != "presence":
            continue
        name = item["zone"]["name"]
        if name not in zones:
            zones.append(name)
        begin = item.get("entered_at")
        finish = item.get("left_at") or (min(now, end) if item.get("inside") else None)
        stays.append(
            {
                "zone": name,
                "zone_id": item["zone"]["id"],
                "from": _utc(begin or finish or item["at"]),
                "to": _utc(finish or begin or item["at"]),
                "inside": bool(item.get("inside")),
                "partial": begin is None,
            }
        )
    return {"start": _utc(start), "end": _utc(end), "zones": zones, "stays": stays}


def _utc(moment) -> str:
    return moment.astimezone(datetime.UTC).isoformat()


DIRECTION_LABELS = dict(Direction.choices)
METHOD_LABELS = dict(Method.choices)


class TrajectorySearchView(PresencePage):
    """Find the person (by name) or vehicle (by plate) whose trajectory to show."""

    model = Presence
    template_name = "events/trajectory_search.html"
    shown = 20

    def get(self, request, *args, **kwargs):
        user = request.user
        q = (request.GET.get("q") or "").strip()[:100]
        error = None
        people, vehicles = [], []
        if "\x00" in q:
            q, error = "", _("Text may not contain NUL characters.")
        if q:
            people = list(
                Person.objects.restrict(user, VIEW)
                .filter(name__icontains=q)
                .order_by("name", "pk")
                .values("id", "name", "enterprise__name")[: self.shown + 1]
            )
            vehicles = list(
                Vehicle.objects.restrict(user, VIEW)
                .filter(plate__icontains=q.upper().replace(" ", "").replace("·", ""))
                .order_by("plate", "pk")
                .values("id", "plate", "enterprise__name")[: self.shown + 1]
            )
        return render(
            request,
            self.template_name,
            {
                "q": q,
                "error": error,
                "people": people[: self.shown],
                "vehicles": vehicles[: self.shown],
                "more": len(people) > self.shown or len(vehicles) > self.shown,
            },
            status=400 if error else 200,
        )


# --- events the processor set aside (police only) ------------------------------------------

QUARANTINE_STEPS = {"replay": actions.replay, "dismiss": actions.dismiss}


class QuarantineView(LoginRequiredMixin, View):
    """The events the processor could not place (``events.Quarantine``), newest first,
    with their reason; a police user replays one once its cause is fixed, or dismisses
    it. Filter ``?state=`` (default: held)."""

    model = Quarantine
    template_name = "events/quarantine.html"
    shown = 200

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            queries.quarantine_rows(request.user)  # 403 for anyone but the police
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        user = request.user
        rows = queries.quarantine_rows(user)
        counts = dict(rows.values_list("state").annotate(n=Count("pk")).order_by())
        state = request.GET.get("state", Quarantine.State.HELD)
        if state not in Quarantine.State.values and state != "all":
            state = Quarantine.State.HELD
        if state != "all":
            rows = rows.filter(state=state)
        reasons, states = dict(Quarantine.Reason.choices), dict(Quarantine.State.choices)
        items = list(
            rows.order_by("-created", "-pk").values(
                "id", "passage_id", "alarm_id", "zone__name", "reason", "message", "state",
                "attempts", "created", "replayed_at",
            )[: self.shown]
        )  # fmt: skip
        for item in items:
            item["reason_label"] = reasons.get(item["reason"], item["reason"])
            item["state_label"] = states.get(item["state"], item["state"])
        response = render(
            request,
            self.template_name,
            {
                "rows": items,
                "state": state,
                "tabs": [
                    {"state": s, "label": label, "count": counts.get(s, 0)}
                    for s, label in Quarantine.State.choices
                ],
                "total": sum(counts.values()),
                "can_change": user_can(user, Quarantine, CHANGE),
                "more": rows.count() > self.shown,
            },
        )
        add_never_cache_headers(response)
        return response


class QuarantineStepView(LoginRequiredMixin, View):
    """``POST step=replay|dismiss`` on one set-aside event (audited, ``actions.py``)."""

    model = Quarantine
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        entry = queries.quarantine_rows(request.user, CHANGE).filter(pk=self.kwargs["pk"]).first()
        if entry is None:
            raise Http404
        step = QUARANTINE_STEPS.get(request.POST.get("step", ""))
        if step is None:
            messages.error(request, _("Unknown step."))
        else:
            try:
                step(request.user, entry, remote_addr=generic.client_ip(request))
            except (actions.StepRefused, PermissionDenied) as e:
                messages.error(request, str(e))
        back = request.POST.get("back", "")
        if back not in Quarantine.State.values and back != "all":
            back = Quarantine.State.HELD
        return HttpResponseRedirect(f"{reverse('events:quarantine')}?state={back}", status=303)
