"""Roles and what each may do, per model.

A role says *what* a user may do (view, add, change, ...); the user's place — station,
enterprise or own person record — says *which rows* (see :mod:`anyuan.core.scoping`).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    POLICE_ADMIN = "police_admin", _("Police administrator")
    POLICE_OFFICER = "police_officer", _("Police officer")
    ENTERPRISE_ADMIN = "enterprise_admin", _("Enterprise administrator")
    ENTERPRISE_SECURITY = "enterprise_security", _("Enterprise security")
    INFORMANT = "informant", _("Informant")
    EMPLOYEE = "employee", _("Employee")
    # judicial office, labour bureau, people's mediators: only the tier-3 dispute cases
    # they are invited to (anyuan.disputes; the rows come from Case.scope.own)
    PARTNER = "partner", _("Mediation partner")


POLICE_ROLES = {Role.POLICE_ADMIN, Role.POLICE_OFFICER}
ENTERPRISE_ROLES = {Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_SECURITY}
PERSONAL_ROLES = {Role.INFORMANT, Role.EMPLOYEE}
# Roles that sign in with a second factor (a TOTP code) after the password, always; platform
# operators (superusers) too (anyuan.accounts.twofactor).
TWO_FACTOR_ROLES = {Role.POLICE_ADMIN, Role.POLICE_OFFICER, Role.ENTERPRISE_ADMIN}


# Who manages the accounts of each role — sees them, creates them, changes them, resets
# their passwords, moves a user into the role — declared per role and applied by the one
# scoping mechanism (``Scope.role``: users, API tokens) in pages, API and actions alike.
# Police, informant and mediation-partner accounts are the police's; an enterprise
# administrator manages its own staff and its employees' sign-ins, nothing else.
MANAGED_BY: dict[str, frozenset] = {
    Role.POLICE_ADMIN: frozenset({Role.POLICE_ADMIN}),
    Role.POLICE_OFFICER: frozenset({Role.POLICE_ADMIN}),
    Role.ENTERPRISE_ADMIN: frozenset({Role.POLICE_ADMIN, Role.ENTERPRISE_ADMIN}),
    Role.ENTERPRISE_SECURITY: frozenset({Role.POLICE_ADMIN, Role.ENTERPRISE_ADMIN}),
    Role.EMPLOYEE: frozenset({Role.POLICE_ADMIN, Role.ENTERPRISE_ADMIN}),
    Role.INFORMANT: frozenset({Role.POLICE_ADMIN}),
    Role.PARTNER: frozenset({Role.POLICE_ADMIN}),
}


def managed_roles(user) -> frozenset:
    """The roles whose accounts ``user`` manages (every role, for a platform operator)."""
    if getattr(user, "is_superuser", False):
        return frozenset(Role.values)
    role = getattr(user, "role", None)
    return frozenset(r for r, managers in MANAGED_BY.items() if role in managers)


def is_police(user) -> bool:
    """A police user of a station, or a platform operator (the system actor is neither)."""
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", None) in POLICE_ROLES)


VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
REVEAL, EXPORT, IMPORT = "reveal", "export", "import"
ACTIONS = (VIEW, ADD, CHANGE, DELETE, REVEAL, EXPORT, IMPORT)

EDIT = frozenset({VIEW, ADD, CHANGE, DELETE})
MANAGE = EDIT | {EXPORT, IMPORT}
READ = frozenset({VIEW})
NONE = frozenset()

# Disputes (anyuan.disputes): who files, who handles. Which rows: the case's scope.
DISPUTES_POLICE = {
    "disputes.case": frozenset({VIEW, ADD, CHANGE, EXPORT}),
    "disputes.caseparty": frozenset({VIEW, REVEAL}),
    "disputes.caseattachment": frozenset({VIEW, ADD}),
    "disputes.groupwarning": READ,
    "disputes.warninginfo": frozenset({VIEW, ADD, CHANGE, EXPORT}),
}
DISPUTES_ENTERPRISE = {
    "disputes.case": frozenset({VIEW, ADD, CHANGE}),
    "disputes.caseparty": READ,
    "disputes.caseattachment": frozenset({VIEW, ADD}),
    "disputes.groupwarning": NONE,  # the police's early warning
    "disputes.warninginfo": frozenset({VIEW, ADD}),
}
DISPUTES_REPORTER = {  # informants (and employees: cases) file and follow their own
    "disputes.case": frozenset({VIEW, ADD}),
    "disputes.caseparty": READ,
    "disputes.caseattachment": READ,
    "disputes.warninginfo": frozenset({VIEW, ADD}),
}

# Not a model: the state of the site's supervised services (``anyuan.core.supervisor``),
# for the police administrator. ``user_can(user, SITE_SERVICES, VIEW)``.
SITE_SERVICES = "core.siteservices"

# What enterprise roles (whose "*" is READ) must never see: the platform's own operations.
POLICE_ONLY = {"events.quarantine": NONE, SITE_SERVICES: NONE, "core.scheduledjob": NONE}

# Model label → actions; "*" is every model the role has no line for.
PERMISSIONS: dict[str, dict[str, frozenset]] = {
    Role.POLICE_ADMIN: {
        "*": MANAGE | {REVEAL},
        "core.auditentry": frozenset({VIEW, EXPORT}),
        "registry.qualificationtype": READ,
        # the event log is append-only: written by devices, read by people
        "events.passage": frozenset({VIEW, EXPORT}),
        "events.devicealarm": frozenset({VIEW, EXPORT}),
        "events.devicelink": READ,
        # presences are kept by the processor; the muster list is exported (audited)
        "events.presence": frozenset({VIEW, EXPORT}),
        # events the processor set aside: the police replay or dismiss them (audited)
        "events.quarantine": frozenset({VIEW, CHANGE}),
        # the site's services (``anyuan site``: web server, processor, periodic commands)
        SITE_SERVICES: READ,
        # alerts are raised by the platform; people acknowledge, dispatch and resolve
        "alerts.alert": frozenset({VIEW, CHANGE, EXPORT}),
        "live.livemessage": READ,  # live push: notifications of their scope
        "alerts.rule": EDIT,
        "dashboard.passagehour": READ,  # rollups kept by the processor
        # contact tracing: runs are records (never changed); XLSX export is audited
        "tracing.tracerun": frozenset({VIEW, ADD, EXPORT}),
        # dispute cases are never deleted (一案一码: every case stays on record); their
        # steps, parties and files are changed only through the case's transitions
        **DISPUTES_POLICE,
        "incidents.incident": MANAGE,
    },
    Role.POLICE_OFFICER: {
        "*": READ,
        "registry.enterprise": frozenset({VIEW, ADD, CHANGE, EXPORT}),
        "registry.person": frozenset({VIEW, ADD, CHANGE, REVEAL}),
        "registry.qualification": EDIT,
        "registry.vehicle": frozenset({VIEW, ADD, CHANGE}),
        "registry.informant": EDIT,
        "registry.watchlistentry": frozenset({VIEW, ADD, CHANGE, REVEAL}),
        "events.presence": frozenset({VIEW, EXPORT}),
        "events.quarantine": frozenset({VIEW, CHANGE}),
        SITE_SERVICES: NONE,
        "alerts.alert": frozenset({VIEW, CHANGE}),
        "live.livemessage": READ,
        "alerts.rule": READ,
        "dashboard.passagehour": READ,
        "tracing.tracerun": frozenset({VIEW, ADD, EXPORT}),
        **DISPUTES_POLICE,
        "incidents.incident": MANAGE,
        "accounts.user": NONE,
        "accounts.apitoken": NONE,
        "core.auditentry": NONE,
    },
    Role.ENTERPRISE_ADMIN: {
        "*": READ,
        "registry.enterprise": frozenset({VIEW, CHANGE}),
        "registry.zone": MANAGE,
        "registry.device": MANAGE,
        "registry.person": MANAGE | {REVEAL},
        "registry.qualification": MANAGE,
        "registry.vehicle": MANAGE,
        "registry.informant": EDIT,
        "registry.accessgroup": EDIT,
        "registry.authorisation": EDIT,
        "registry.watchlistentry": EDIT | {REVEAL},
        "events.presence": READ,
        **POLICE_ONLY,
        "alerts.alert": frozenset({VIEW, CHANGE}),
        "live.livemessage": READ,
        # the enterprise's own rule rows (Rule.scope: enterprise); not station/park-wide ones
        "alerts.rule": EDIT,
        "dashboard.passagehour": READ,
        # traces within the enterprise's own zones (its presences); no export
        "tracing.tracerun": frozenset({VIEW, ADD}),
        **DISPUTES_ENTERPRISE,
        "accounts.user": EDIT,
        "accounts.apitoken": EDIT,
        "core.auditentry": NONE,
    },
    Role.ENTERPRISE_SECURITY: {
        "*": READ,
        "registry.person": frozenset({VIEW, ADD, CHANGE}),
        "registry.vehicle": frozenset({VIEW, ADD, CHANGE}),
        "registry.authorisation": EDIT,
        "registry.accessgroup": EDIT,
        "registry.watchlistentry": frozenset({VIEW, ADD, CHANGE}),
        "events.presence": READ,
        **POLICE_ONLY,
        "alerts.alert": frozenset({VIEW, CHANGE}),
        "live.livemessage": READ,
        "alerts.rule": READ,
        "dashboard.passagehour": READ,
        "tracing.tracerun": frozenset({VIEW, ADD}),
        **DISPUTES_ENTERPRISE,
        "accounts.user": NONE,
        "accounts.apitoken": NONE,
        "core.auditentry": NONE,
    },
    # Informants file reports (a later module) and see their own person record only.
    Role.INFORMANT: {"*": NONE, "registry.person": READ, **DISPUTES_REPORTER},
    Role.EMPLOYEE: {
        "*": NONE,
        "registry.person": READ,
        "registry.qualification": READ,
        "registry.vehicle": READ,
        "registry.authorisation": READ,
        "disputes.case": DISPUTES_REPORTER["disputes.case"],
        "disputes.caseattachment": READ,
        "disputes.caseparty": READ,
    },
    # Partners see and work on the tier-3 cases they are invited to, nothing else.
    Role.PARTNER: {
        "*": NONE,
        "disputes.case": frozenset({VIEW, CHANGE}),
        "disputes.caseattachment": frozenset({VIEW, ADD}),
        "disputes.caseparty": READ,
    },
}


# Fields a role may not change even on rows it may change: the police's assessment of an
# enterprise, its grid and contact group are not the enterprise's to edit.
LOCKED_FIELDS: dict[str, dict[str, frozenset]] = {
    Role.ENTERPRISE_ADMIN: {
        "registry.enterprise": frozenset(
            {"station", "credit_code", "grid", "contact_group", "risk_level", "park"}
        ),
    },
}


def locked_fields(user, model) -> frozenset:
    if getattr(user, "is_superuser", False):
        return frozenset()
    return LOCKED_FIELDS.get(getattr(user, "role", ""), {}).get(model_label(model), frozenset())


def model_label(model) -> str:
    """A model's label (``app.model``); a label given as a string is taken as it is (for
    what is no model, such as :data:`SITE_SERVICES`)."""
    return model if isinstance(model, str) else model._meta.label_lower


def role_allows(role: str, model, action: str) -> bool:
    table = PERMISSIONS.get(role)
    if table is None:
        return False
    label = model_label(model)
    return action in table.get(label, table.get("*", NONE))


def user_can(user, model, action: str) -> bool:
    """May ``user`` do ``action`` on *some* rows of ``model``? (Which rows: restrict().)"""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return role_allows(user.role, model, action)
