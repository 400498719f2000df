"""Incident pages: the list, one incident, add/edit (through :mod:`anyuan.incidents.actions`,
as the API), the CSV/XLSX import, and the statistics (tables, a chart, an XLSX download)
compared year on year and month on month."""

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from anyuan.core import actions as core_actions
from anyuan.core import views as generic
from anyuan.core.actions import ValidationFailed
from anyuan.core.roles import CHANGE, EXPORT, IMPORT, VIEW, is_police, user_can
from anyuan.core.spreadsheets import XLSX_CONTENT_TYPE
from anyuan.incidents import actions, importing, stats
from anyuan.incidents.models import Category, Incident
from anyuan.registry.models import Enterprise, PoliceGrid

FIELDS = [
    "station",
    "number",
    "category",
    "occurred_at",
    "place",
    "enterprise",
    "grid",
    "solved",
    "summary",
]


class IncidentListView(generic.ObjectListView):
    url_namespace = "incidents"
    columns = ["occurred_at", "number", "category", "enterprise", "grid", "place", "solved"]
    search_fields = ["number", "place", "summary"]
    filters = ["category", "solved", "enterprise", "grid"]

    def context(self, **extra):
        context = super().context(**extra)
        if user_can(self.request.user, Incident, IMPORT):
            context["import_url"] = reverse("incidents:import")
        return context


class IncidentDetailView(generic.ObjectDetailView):
    url_namespace = "incidents"


class IncidentEditView(generic.ObjectEditView):
    """Add or change one incident through :mod:`anyuan.incidents.actions` (as the API)."""

    url_namespace = "incidents"
    fields = FIELDS

    def post(self, request, *args, **kwargs):
        obj = self.instance()
        form = self.form_class()(request.POST, instance=obj)
        if form.is_valid():
            data = form.changed_cleaned_data()
            remote = generic.client_ip(request)
            try:
                if obj is None:
                    obj = actions.create(request.user, data, remote_addr=remote)
                else:
                    # the form has written into its instance; the action starts from the stored row
                    obj = actions.update(request.user, self.get_object(CHANGE), data,
                                         remote_addr=remote)  # fmt: skip
            except ValidationFailed as e:
                for field, errors in e.errors.items():
                    for err in errors:
                        form.add_error(field if field in form.fields else None, err)
            else:
                messages.success(request, _("Saved."))
                return HttpResponseRedirect(self.url("detail", obj.pk))
        if obj is not None and obj.pk:
            obj = self.get_object(CHANGE)  # the heading names the stored row, not the input
        return render(request, self.template_name, self.context(form=form, object=obj), status=400)


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV or XLSX file"))


class ImportView(LoginRequiredMixin, View):
    accepts_uploads = True  # signed-in requests may send up to the upload limit (core/bodylimit.py)
    template_name = "incidents/import.html"

    def check(self, request):
        if not user_can(request.user, Incident, IMPORT):
            raise PermissionDenied(_("You may not do this."))

    def get(self, request):
        self.check(request)
        return render(
            request, self.template_name, {"form": ImportForm(), "headers": importing.HEADERS}
        )

    def post(self, request):
        self.check(request)
        form = ImportForm(request.POST, request.FILES)
        errors = []
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > importing.max_bytes():
                errors = [_("The file is too large (%(size)s MB; at most %(max)s MB).")
                          % {"size": round(upload.size / 2**20, 1), "max": round(importing.max_bytes() / 2**20, 1)}]  # fmt: skip
            else:
                try:
                    result = importing.import_file(
                        request.user,
                        upload.name,
                        upload.read(),
                        remote_addr=generic.client_ip(request),
                    )
                except ValidationFailed as e:
                    errors = [m for ms in e.errors.values() for m in ms]
                else:
                    messages.success(
                        request,
                        _("Imported: %(created)d new, %(updated)d updated.") % result,
                    )
                    return HttpResponseRedirect(reverse("incidents:incident-list"), status=303)
        return render(
            request, self.template_name,
            {"form": form, "errors": errors, "headers": importing.HEADERS}, status=400,
        )  # fmt: skip


def _int(value, default, low, high):
    try:
        value = int(value)
    except (TypeError, ValueError):
        return default
    return value if low <= value <= high else default


class StatsView(LoginRequiredMixin, View):
    """``?year=&month=&span=month|ytd|year&category=&enterprise=&grid=`` (the last two for
    the police); ``&format=xlsx`` downloads the tables (audited as an export)."""

    template_name = "incidents/stats.html"

    def get(self, request):
        user = request.user
        if not user_can(user, Incident, VIEW):
            raise PermissionDenied(_("You may not do this."))
        today = timezone.localdate()
        year = _int(request.GET.get("year"), today.year, 2000, 2100)
        month = _int(request.GET.get("month"), today.month if year == today.year else 12, 1, 12)
        span = (
            request.GET.get("span")
            if request.GET.get("span") in ("month", "ytd", "year")
            else "month"
        )
        period = {
            "month": stats.Period.month(year, month),
            "ytd": stats.Period.year_to(year, month),
            "year": stats.Period(year),
        }[span]
        qs = Incident.objects.restrict(user, VIEW)
        category = request.GET.get("category") or ""
        if category in Category.values:
            qs = qs.filter(category=category)
        else:
            category = ""
        police = is_police(user)
        enterprise = grid = None
        if police:
            enterprise = (
                Enterprise.objects.restrict(user, VIEW)
                .filter(pk=_int(request.GET.get("enterprise"), 0, 1, 2**62))
                .first()
            )
            grid = (
                PoliceGrid.objects.restrict(user, VIEW)
                .filter(pk=_int(request.GET.get("grid"), 0, 1, 2**62))
                .first()
            )
            if enterprise is not None:
                qs = qs.filter(enterprise=enterprise)
            if grid is not None:
                qs = qs.filter(grid=grid)
        if request.GET.get("format") == "xlsx":
            if not user_can(user, Incident, EXPORT):
                raise PermissionDenied(_("You may not do this."))
            data = stats.xlsx(qs, period, year)
            core_actions.record_export(
                user, Incident, count=stats.compare(qs, "category", period)["total"]["now"],
                fmt="xlsx", personal=False, remote_addr=generic.client_ip(request),
            )  # fmt: skip
            response = HttpResponse(
                data,
                content_type=XLSX_CONTENT_TYPE,
            )
            response["Content-Disposition"] = (
                f'attachment; filename="incidents-{period.label}.xlsx"'
            )
            return response
        tables = [
            (_("By category"), stats.compare(qs, "category", period)),
            (_("By enterprise"), stats.compare(qs, "enterprise", period)),
            (_("By police grid"), stats.compare(qs, "grid", period)),
        ]
        months = stats.by_month(qs, year)
        query = request.GET.copy()
        query["format"] = "xlsx"
        return render(
            request,
            self.template_name,
            {
                "year": year, "month": month, "span": span, "period": period,
                "years": list(range(today.year, today.year - 6, -1)),
                "months": list(range(1, 13)),
                "categories": Category.choices, "category": category,
                "police": police,
                "enterprises": Enterprise.objects.restrict(user, VIEW) if police else [],
                "grids": PoliceGrid.objects.restrict(user, VIEW) if police else [],
                "enterprise": enterprise, "grid": grid,
                "tables": tables, "by_month": months,
                "chart": {
                    "labels": [f"{m['month']}" for m in months],
                    "now": [m["now"] for m in months],
                    "before": [m["year_before"] for m in months],
                    "now_name": str(year), "before_name": str(year - 1),
                },
                "solved": stats.solved_share(qs, period),
                "export_url": "?" + query.urlencode() if user_can(user, Incident, EXPORT) else None,
                "list_url": reverse("incidents:incident-list"),
            },
        )  # fmt: skip
