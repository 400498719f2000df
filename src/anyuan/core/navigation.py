"""The main menu: what a user sees is what their role lets them view (or, for an entry
that adds something, add)."""

from django.apps import apps
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from anyuan.core.roles import ADD, VIEW, user_can

# (section title, [(model label, url name[, title — default: the model's plural name
#  [, the action the entry needs — default VIEW]])])
SECTIONS = [
    (
        _("Alerts"),
        [
            ("alerts.alert", "alerts:alert-list"),
            ("alerts.rule", "alerts:rule-list"),
        ],
    ),
    (
        _("Disputes and incidents"),
        [
            ("disputes.case", "disputes:case-list"),
            ("disputes.case", "disputes:case-add", _("Report a dispute"), ADD),
            ("disputes.case", "disputes:stats", _("Dispute statistics")),
            ("disputes.groupwarning", "disputes:groupwarning-list"),
            ("disputes.warninginfo", "disputes:warninginfo-list"),
            ("incidents.incident", "incidents:incident-list"),
            ("incidents.incident", "incidents:stats", _("Incident statistics")),
        ],
    ),
    (
        _("Police"),
        [
            ("registry.station", "registry:station-list"),
            ("registry.officer", "registry:officer-list"),
            ("registry.policegrid", "registry:policegrid-list"),
            ("registry.contactgroup", "registry:contactgroup-list"),
        ],
    ),
    (
        _("Enterprises"),
        [
            ("registry.enterprise", "registry:enterprise-list"),
            ("registry.labouragency", "registry:labouragency-list"),
            ("registry.park", "registry:park-list"),
        ],
    ),
    (
        _("Places and devices"),
        [
            ("registry.zone", "registry:zone-list"),
            ("registry.device", "registry:device-list"),
            ("events.passage", "events:passage-list"),
            ("events.devicealarm", "events:devicealarm-list"),
            ("events.presence", "events:occupancy", _("Occupancy and muster lists")),
            ("events.presence", "events:trajectory", _("Trajectories")),
            ("tracing.tracerun", "tracing:index", _("Contact tracing")),
            ("events.devicelink", "events:device-status", _("Device status")),
            ("events.quarantine", "events:quarantine"),
        ],
    ),
    (
        _("People and vehicles"),
        [
            ("registry.person", "registry:person-list"),
            ("registry.qualification", "registry:qualification-list"),
            ("registry.vehicle", "registry:vehicle-list"),
            ("registry.informant", "registry:informant-list"),
        ],
    ),
    (
        _("Access"),
        [
            ("registry.accessgroup", "registry:accessgroup-list"),
            ("registry.authorisation", "registry:authorisation-list"),
            ("registry.watchlistentry", "registry:watchlistentry-list"),
        ],
    ),
    (
        _("Administration"),
        [
            ("accounts.user", "accounts:user-list"),
            ("accounts.apitoken", "accounts:apitoken-list"),
            ("core.auditentry", "core:auditentry-list"),
        ],
    ),
]


def menu_for(user):
    if user is None or not user.is_authenticated:
        return []
    menu = []
    for title, entries in SECTIONS:
        items = []
        for label, url_name, *custom in entries:
            model = apps.get_model(label)
            action = custom[1] if len(custom) > 1 else VIEW
            if user_can(user, model, action):
                items.append(
                    {
                        "title": custom[0] if custom else model._meta.verbose_name_plural,
                        "url": reverse(url_name),
                    }
                )
        if items:
            menu.append({"title": title, "items": items})
    return menu
