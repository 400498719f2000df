"""The smart dashboard 智慧看板: one page for the wall screen of the station or the security
office and for a laptop (``?wall=1``: full screen, dark, no menu). The page is a frame; its
numbers come from the endpoints of ``api.py`` in the browser (``static/dashboard/
dashboard.js``) and follow the live push (``anyuan.live``) without reloading.

Who gets it: users whose role lets them view presences (police and enterprise roles);
informants and employees are sent to their own overview page instead.
"""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import RedirectView, TemplateView

from anyuan.alerts.models import Alert
from anyuan.core.roles import CHANGE, VIEW, is_police, user_can
from anyuan.events.models import Presence
from anyuan.registry.models import Enterprise, PoliceGrid, Ring

ENDPOINTS = ("occupancy", "passages_hourly", "alerts", "zones", "devices", "tiles")


def may_see_dashboard(user) -> bool:
    return user.is_authenticated and user_can(user, Presence, VIEW)


class LandingView(LoginRequiredMixin, RedirectView):
    """``/``: the dashboard for those who watch the park, the overview for everyone else."""

    def get_redirect_url(self, *args, **kwargs):
        user = self.request.user
        return reverse("dashboard:index") if may_see_dashboard(user) else reverse("home")


def strings() -> dict:
    """The texts the page's script shows, translated here (the script has no catalogue)."""
    return {
        "people": _("People inside"),
        "vehicles": _("Vehicles inside"),
        "visitors": _("Visitor vehicles"),
        "open_alerts": _("Open alerts"),
        "devices": _("Devices online"),
        "passages_today": _("Passages today"),
        "vs_last_week": _("same time last week: %(n)s"),
        "of_capacity": _("of %(n)s"),
        "silent": _("%(n)s silent"),
        "high_or_critical": _("%(n)s high or critical"),
        "overdue": _("%(n)s overdue"),
        "today": _("Today"),
        "last_week": _("Same weekday last week"),
        "in": _("In"),
        "out": _("Out"),
        "inside": _("Inside"),
        "capacity": _("Capacity"),
        "alerts": _("Alerts"),
        "minutes": _("%(n)s min"),
        "hours_minutes": _("%(h)s h %(m)s min"),
        "acknowledge": _("Acknowledge"),
        "acknowledged": _("Acknowledged"),
        "ack_failed": _("Could not acknowledge: %(reason)s"),
        "no_alerts": _("No open alerts. All quiet."),
        "no_visitors": _("No visitor vehicles inside."),
        "no_silent": _("Every device has reported in time."),
        "no_zones": _("No zone with anyone inside or a capacity."),
        "not_counted": _("park-shared: counted by the police"),
        "updated": _("Updated %(time)s"),
        "offline": _("Connection lost; retrying ..."),
        "live": _("Live"),
        "sound_on": _("Sound on"),
        "sound_off": _("Sound off"),
        "times": _("×%(n)s"),
        "repeat": _("repeated"),
        "last_30_days": _("Last 30 days"),
        "by_type_today": _("Today by type"),
        "none_today": _("No alerts today."),
        "zone_map_hint": _("Size: capacity or people inside; colour: how full, red: open alerts"),
        "over_capacity": _("over capacity"),
        "muster": _("Muster list"),
        "all_zones": _("All zones"),
        "silent_for": _("silent for %(t)s"),
        "allowed_until": _("allowed until %(t)s"),
        "unknown_plate": _("plate in no registry"),
        "error": _("Could not load: %(reason)s"),
    }


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "dashboard/dashboard.html"

    def get(self, request, *args, **kwargs):
        if not may_see_dashboard(request.user):
            return redirect("home")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        police = is_police(user)
        context.update(
            endpoints={name: reverse(f"api-v1:dashboard_{name}") for name in ENDPOINTS},
            police=police,
            wall=self.request.GET.get("wall") == "1",
            strings=strings(),
            rings=[{"value": v, "label": str(label)} for v, label in Ring.choices],
            may_acknowledge=user_can(user, Alert, CHANGE),
            urls={
                "acknowledge": reverse("api-v1:acknowledge_alert", args=[0]),
                "alert": reverse("alerts:alert-detail", args=[0]),
                "alerts": reverse("alerts:alert-list"),
                "muster": reverse("events:muster", args=[0]),
                "occupancy": reverse("events:occupancy"),
                "devices": reverse("events:device-status"),
            },
        )
        if police:  # the filters: the grids and enterprises of the jurisdiction
            context["grids"] = list(
                PoliceGrid.objects.restrict(user, VIEW)
                .order_by("position", "name")
                .values("id", "name")
            )
            context["enterprises"] = list(
                Enterprise.objects.restrict(user, VIEW)
                .order_by("name")
                .values("id", "name", "grid_id")
            )
            context["place_name"] = user.station.name if user.station_id else _("Jurisdiction")
        else:
            enterprise = Enterprise.objects.restrict(user, VIEW).filter(pk=user.enterprise_id)
            context["place_name"] = enterprise.values_list("name", flat=True).first() or ""
        return context
