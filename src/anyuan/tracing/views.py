"""Pages of contact tracing: the trace form with the runs in reach, a run's result (the
index cases' trajectory, contacts ranked by exposure, the contact graph), its printable
report and its XLSX export. Thin: checks and work are in ``actions`` and ``query``."""

import datetime as dt

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from anyuan.core import views as generic
from anyuan.core.actions import ValidationFailed
from anyuan.core.models import REASON_MAX_LENGTH
from anyuan.core.roles import EXPORT, VIEW, user_can
from anyuan.registry.models import Person
from anyuan.tracing import actions, api
from anyuan.tracing.models import Rule, TraceRun

DT_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class TraceForm(forms.Form):
    people = forms.CharField(
        label=gettext_lazy("Index people"),
        required=False,
        max_length=2000,
        help_text=gettext_lazy("Record numbers, separated by commas; find people by name above."),
    )
    plate = forms.CharField(label=gettext_lazy("Or a plate"), required=False, max_length=16)
    from_ = forms.DateTimeField(label=gettext_lazy("From"), required=False, widget=DT_INPUT)
    to = forms.DateTimeField(label=gettext_lazy("To"), required=False, widget=DT_INPUT)
    minutes = forms.IntegerField(
        label=gettext_lazy("Minimum contact (minutes)"), initial=15, min_value=1, max_value=1440
    )
    rule = forms.ChoiceField(label=gettext_lazy("Rule"), choices=Rule.choices, initial=Rule.SINGLE)
    hops = forms.TypedChoiceField(
        label=gettext_lazy("Hops"),
        coerce=int,
        initial=2,
        choices=[
            (1, gettext_lazy("1 — close contacts")),
            (2, gettext_lazy("2 — and secondary contacts")),
            (3, gettext_lazy("3 — one more")),
        ],
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("A trace looks at many people's whereabouts: it is audited."),
    )

    def add_prefix(self, field_name):
        return "from" if field_name == "from_" else super().add_prefix(field_name)

    def clean_people(self):
        text = self.cleaned_data["people"].replace("，", ",").replace(" ", ",")
        parts = [p for p in text.split(",") if p]
        if not all(p.isascii() and p.isdigit() for p in parts):
            raise forms.ValidationError(_("Record numbers only, separated by commas."))
        return [int(p) for p in parts]

    def _aware(self, name):
        value = self.cleaned_data.get(name)
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value

    def clean_from_(self):
        return self._aware("from_")

    def clean_to(self):
        return self._aware("to")


FIELD_OF = {"start": "from_", "end": "to"}


class TracingPage(LoginRequiredMixin, View):
    model = TraceRun

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not user_can(request.user, TraceRun, VIEW):
            raise PermissionDenied(_("You may not do this."))
        return super().dispatch(request, *args, **kwargs)


class TraceIndexView(TracingPage):
    """The trace form (with a person search) and the runs in reach."""

    template_name = "tracing/index.html"
    shown = 20

    def context(self, request, form):
        user = request.user
        q = (request.GET.get("q") or "").strip()[:100].replace("\x00", "")
        found = []
        if q:
            found = list(
                Person.objects.restrict(user, VIEW)
                .filter(name__icontains=q)
                .order_by("name", "pk")
                .values("id", "name", "enterprise__name")[: self.shown]
            )
        chosen = form["people"].value() or request.GET.get("people", "")
        runs = (
            TraceRun.objects.restrict(user, VIEW)
            .select_related("user")
            .defer("result")
            .order_by("-created", "-id")[:50]
        )
        return {
            "form": form,
            "q": q,
            "found": found,
            "chosen": chosen,
            "runs": runs,
            "may_trace": actions.may_trace(user),
        }

    def get(self, request, *args, **kwargs):
        initial = {"people": request.GET.get("people", "")}
        form = TraceForm(initial=initial)
        return render(request, self.template_name, self.context(request, form))

    def post(self, request, *args, **kwargs):
        actions.require_trace(request.user)
        form = TraceForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                run = actions.run_trace(
                    request.user,
                    {
                        "people": data["people"],
                        "plate": data["plate"],
                        "start": data["from_"],
                        "end": data["to"],
                        "minutes": data["minutes"],
                        "rule": data["rule"],
                        "hops": data["hops"],
                        "reason": data["reason"],
                    },
                    remote_addr=generic.client_ip(request),
                )
            except ValidationFailed as e:
                for field, messages in e.errors.items():
                    name = FIELD_OF.get(field, field)
                    for m in messages:
                        form.add_error(name if name in form.fields else None, m)
            else:
                return redirect(run.get_absolute_url())
        return render(request, self.template_name, self.context(request, form), status=400)


def _local(value: str | None):
    if not value:
        return None
    return timezone.localtime(dt.datetime.fromisoformat(value))


def run_context(user, run: TraceRun) -> dict:
    r = run.result or {}
    names = {(i["kind"], i["id"]): i["name"] for i in r.get("index", [])}
    trajectory = [
        {
            **t,
            "who": names.get(tuple(t["subject"]), ""),
            "from_at": _local(t["from"]),
            "to_at": _local(t["to"]),
        }
        for t in r.get("trajectory", [])
    ]
    contacts = r.get("contacts", [])
    for c in contacts:
        c["first_at"] = _local(c["first_exposure"])
        for m in c["meetings"]:
            m["from_at"], m["to_at"] = _local(m["from"]), _local(m["to"])
    graph = {
        "index": [[i["kind"], i["id"], i["name"]] for i in r.get("index", [])],
        "contacts": [
            [c["kind"], c["id"], c["name"], c["hop"], c["exposure_minutes"]] for c in contacts[:300]
        ],
        "edges": [[e["from"], e["to"], e["minutes"]] for e in r.get("edges", [])],
    }
    return {
        "run": run,
        "result": r,
        "trajectory": trajectory,
        "contacts": contacts,
        "hop_counts": r.get("counts", []),
        "graph": graph,
        "may_export": TraceRun.objects.restrict(user, EXPORT).filter(pk=run.pk).exists(),
    }


class TraceRunView(TracingPage):
    template_name = "tracing/run.html"

    def get(self, request, *args, **kwargs):
        run = api.visible_run(request.user, self.kwargs["pk"])
        response = render(request, self.template_name, run_context(request.user, run))
        add_never_cache_headers(response)
        return response


class TraceReportView(TraceRunView):
    """The printable report: the same content without the menu, laid out for paper."""

    template_name = "tracing/report.html"


class TraceXlsxView(TracingPage):
    def get(self, request, *args, **kwargs):
        run = api.visible_run(request.user, self.kwargs["pk"])
        response = api.xlsx_response(request.user, run, remote_addr=generic.client_ip(request))
        add_never_cache_headers(response)
        return response
