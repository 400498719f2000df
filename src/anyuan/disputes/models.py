"""Disputes and three-tier mediation (矛盾纠纷三级联调), group-incident warnings and warning
information (预警性信息).

A :class:`Case` is filed by an informant, an employee, an enterprise or an officer, routed
into the first tier that fits (:mod:`anyuan.disputes.routing`) and walked through its
states by a state machine (django-fsm-2): reported → accepted → mediating → agreement →
return visit → closed; escalated (to the next tier), referred, withdrawn. Every step is
one audited action (:mod:`anyuan.disputes.actions`) and one :class:`CaseTransition` row
(who, when, note), which is what the parties see of the history. The parties follow their
case with their own access code (一案一码, also as a QR code) without an account.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import LazyObject
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from anyuan.core.personal import DigestField, Disclosure, EncryptedField, RowKeyField
from anyuan.core.scoping import Scope, ScopedQuerySet


class Tier(models.IntegerChoices):
    WORKSHOP = 1, _("Tier 1 · workshop or team mediator")
    ENTERPRISE = 2, _("Tier 2 · enterprise manager")
    OFFICE = 3, _("Tier 3 · police-enterprise office with partners")


TOP_TIER = Tier.OFFICE


class DisputeType(models.TextChoices):
    WAGES = "wages", _("Wages and labour")
    FIGHT = "fight", _("Fight")
    CONTRACT = "contract", _("Contract")
    DORMITORY = "dormitory", _("Dormitory and neighbours")
    FAMILY = "family", _("Family")
    OTHER = "other", _("Other")


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")
    GENERAL = "general", _("General")
    SERIOUS = "serious", _("Serious")
    MAJOR = "major", _("Major")


class State(models.TextChoices):
    REPORTED = "reported", _("Reported")
    ACCEPTED = "accepted", _("Accepted")
    MEDIATING = "mediating", _("Mediating")
    AGREEMENT = "agreement", _("Agreement reached")
    RETURN_VISIT = "return_visit", _("Return visit")
    CLOSED = "closed", _("Closed")
    ESCALATED = "escalated", _("Escalated")
    REFERRED = "referred", _("Referred")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Referral(models.TextChoices):
    ARBITRATION = "arbitration", _("Labour arbitration")
    COURT = "court", _("Court")
    POLICE = "police", _("Police case")


S = State
FINAL_STATES = (S.CLOSED, S.REFERRED, S.WITHDRAWN)
OPEN_STATES = tuple(s for s in S.values if s not in FINAL_STATES)
SETTLED_STATES = (S.AGREEMENT, S.RETURN_VISIT, S.CLOSED)
# states in which a tier still owes the parties a first contact, or a result
AWAITING_CONTACT = (S.REPORTED, S.ESCALATED)
AWAITING_RESULT = (S.REPORTED, S.ESCALATED, S.ACCEPTED, S.MEDIATING)
ESCALATABLE = [S.REPORTED, S.ACCEPTED, S.MEDIATING, S.ESCALATED, S.RETURN_VISIT]
ENDABLE = [S.REPORTED, S.ACCEPTED, S.MEDIATING, S.ESCALATED]


def below_top_tier(case) -> bool:
    return case.tier < TOP_TIER


def has_agreement(case) -> bool:
    return (
        case.pk is not None and case.attachments.filter(kind=CaseAttachment.Kind.AGREEMENT).exists()
    )


class Case(ConcurrentTransitionMixin, models.Model):
    number = models.CharField(_("case number"), max_length=40, unique=True, editable=False)
    station = models.ForeignKey(
        "registry.Station", verbose_name=_("station"), on_delete=models.PROTECT, related_name="+"
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dispute_cases",
    )
    grid = models.ForeignKey(
        "registry.PoliceGrid",
        verbose_name=_("police grid"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    zone = models.ForeignKey(
        "registry.Zone",
        verbose_name=_("workshop or zone"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    place = models.CharField(_("place"), max_length=200, blank=True)
    type = models.CharField(_("type"), max_length=16, choices=DisputeType.choices)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.GENERAL
    )
    people_involved = models.PositiveIntegerField(_("people involved"), default=2)
    threats = models.BooleanField(_("threats"), default=False)
    gathering = models.BooleanField(_("group gathering"), default=False)
    summary = models.CharField(_("summary"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    tier = models.PositiveSmallIntegerField(_("tier"), choices=Tier.choices, default=Tier.WORKSHOP)
    state = FSMField(
        _("state"), max_length=16, choices=State.choices, default=S.REPORTED, protected=True
    )
    reported_at = models.DateTimeField(_("reported at"), default=timezone.now, db_index=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reporter = models.ForeignKey(
        "registry.Person",
        verbose_name=_("reporter"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_disputes",
        help_text=_("The informant or employee who reported it: they follow their reports."),
    )
    reporter_name = models.CharField(_("reporter name"), max_length=100, blank=True)
    partners = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited partners"),
        blank=True,
        related_name="dispute_invitations",
    )
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("agreement at"), null=True, blank=True)
    settled_tier = models.PositiveSmallIntegerField(
        _("settled in tier"), choices=Tier.choices, null=True, blank=True
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    referred_to = models.CharField(
        _("referred to"), max_length=16, choices=Referral.choices, blank=True
    )
    due_contact = models.DateTimeField(_("first contact due"), null=True, blank=True)
    due_close = models.DateTimeField(_("result due"), null=True, blank=True, db_index=True)
    reminded_contact = models.DateTimeField(_("contact reminder sent"), null=True, blank=True)
    reminded_close = models.DateTimeField(_("result reminder sent"), null=True, blank=True)
    breaches = models.PositiveSmallIntegerField(_("time limits breached"), default=0)
    satisfaction = models.FloatField(_("satisfaction"), null=True, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    # the police their station's cases, an enterprise its own, informants and employees
    # what they reported, partners the cases they are invited to (``own``)
    scope = Scope(
        station="station", enterprise="enterprise", person="reporter", own="partners", multi=True
    )
    # who reported it is the police's (and the reporter's own) to know
    disclosure = Disclosure(police_only=("reported_by", "reporter", "reporter_name"))

    class Meta:
        verbose_name = _("dispute case")
        verbose_name_plural = _("dispute cases")
        ordering = ["-reported_at", "-pk"]
        indexes = [
            models.Index(fields=["station", "state"]),
            models.Index(fields=["enterprise", "type", "reported_at"]),
        ]

    def __str__(self):
        return f"{self.number} {self.summary}"

    def get_absolute_url(self):
        return reverse("disputes:case-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state not in FINAL_STATES

    def clean(self):
        errors = {}
        if self.enterprise_id and self.enterprise.station_id != self.station_id:
            errors["enterprise"] = _("The enterprise is not in this station's jurisdiction.")
        if self.zone_id and self.zone.park.station_id != self.station_id:
            errors["zone"] = _("Not in this station's jurisdiction.")
        elif (
            self.zone_id
            and self.enterprise_id
            and self.zone.enterprise_id not in (None, self.enterprise_id)
        ):
            errors["zone"] = _("The zone belongs to another enterprise.")
        if self.grid_id and self.grid.station_id != self.station_id:
            errors["grid"] = _("Not in this station's jurisdiction.")
        if errors:
            raise ValidationError(errors)

    # --- the state machine (django-fsm-2); called only by anyuan.disputes.actions ------

    @transition(field=state, source=[S.REPORTED, S.ESCALATED], target=S.ACCEPTED)
    def accept(self, at):
        self.accepted_at = at
        if self.first_contact_at is None:
            self.first_contact_at = at

    @transition(field=state, source=S.ACCEPTED, target=S.MEDIATING)
    def mediate(self, at):
        pass

    @transition(field=state, source=S.MEDIATING, target=S.AGREEMENT, conditions=[has_agreement])
    def agree(self, at):
        self.settled_at = at
        self.settled_tier = self.tier

    @transition(field=state, source=S.AGREEMENT, target=S.RETURN_VISIT)
    def visit(self, at):
        pass

    @transition(field=state, source=S.RETURN_VISIT, target=S.CLOSED)
    def close(self, at):
        self.closed_at = at

    @transition(field=state, source=ESCALATABLE, target=S.ESCALATED, conditions=[below_top_tier])
    def escalate(self, at):
        self.tier += 1
        self.escalated_at = at
        self.accepted_at = None

    @transition(field=state, source=ENDABLE, target=S.REFERRED)
    def refer(self, at, to: str):
        self.referred_to = to
        self.closed_at = at

    @transition(field=state, source=ENDABLE, target=S.WITHDRAWN)
    def withdraw(self, at):
        self.closed_at = at


class CaseParty(models.Model):
    class Kind(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        RESPONDENT = "respondent", _("Respondent")
        OTHER = "other", _("Other party")

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="parties"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.APPLICANT)
    name = models.CharField(_("name"), max_length=100)
    person = models.ForeignKey(
        "registry.Person",
        verbose_name=_("registered person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    row_key = RowKeyField()  # what its personal data is bound to
    phone = EncryptedField(_("phone"), kind="phone")
    phone_digest = DigestField(source="phone")
    # the party's access code (一案一码) is shown once, when issued; only its keyed hash is kept
    code_digest = models.CharField(max_length=64, unique=True, null=True, editable=False)
    code_issued_at = models.DateTimeField(_("code issued"), null=True, blank=True)
    last_visit = models.DateTimeField(_("last followed"), null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        _("satisfaction"), null=True, blank=True, choices=[(i, str(i)) for i in range(1, 6)]
    )
    comment = models.TextField(_("comment"), blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    disclosure = Disclosure(safe={"code_digest": "keyed hash of the access code, never shown"})
    scope = Scope(
        station="case__station",
        enterprise="case__enterprise",
        person="case__reporter",
        own="case__partners",
        multi=True,
    )

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["case", "pk"]

    def __str__(self):
        return self.name


class CaseTransition(models.Model):
    """One step of a case: who, when, from which state and tier to which, and the note."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="transitions"
    )
    name = models.CharField(_("step"), max_length=20)
    source = models.CharField(_("state before"), max_length=16, blank=True)
    target = models.CharField(_("state after"), max_length=16)
    tier_from = models.PositiveSmallIntegerField(_("tier before"), null=True, blank=True)
    tier_to = models.PositiveSmallIntegerField(_("tier after"), null=True, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("by (name)"), max_length=150, blank=True)
    note = models.TextField(_("note"), blank=True)
    breach = models.BooleanField(_("time limit breached"), default=False)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(
        station="case__station",
        enterprise="case__enterprise",
        person="case__reporter",
        own="case__partners",
        multi=True,
    )
    # the "report" step is taken by the reporter; the other steps by those who handle it
    disclosure = Disclosure(
        police_only=("actor", "actor_name"),
        police_only_if=lambda step: step.name == "report",
        safe={"source": "the state before the step, not who reported"},
    )

    class Meta:
        verbose_name = _("case step")
        verbose_name_plural = _("case steps")
        ordering = ["case", "at", "pk"]

    def __str__(self):
        return f"{self.case.number} {self.name} {self.at:%Y-%m-%d %H:%M}"


class _Storage(LazyObject):
    """Case files under ``ANYUAN_DISPUTE_FILES`` (default ``var/files/disputes``); never
    served as static files — only through the scoped download page."""

    def _setup(self):
        self._wrapped = FileSystemStorage(location=settings.ANYUAN_DISPUTE_FILES, base_url=None)


case_files = _Storage()


def _storage():
    return case_files


class CaseAttachment(models.Model):
    class Kind(models.TextChoices):
        EVIDENCE = "evidence", _("Evidence")
        AGREEMENT = "agreement", _("Mediation agreement")
        OTHER = "other", _("Other")

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="attachments"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.EVIDENCE)
    file = models.FileField(_("file"), upload_to="%Y/%m/", storage=_storage, max_length=200)
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(
        station="case__station",
        enterprise="case__enterprise",
        person="case__reporter",
        own="case__partners",
        multi=True,
    )
    # the evidence filed with a case is uploaded by whoever reported it
    disclosure = Disclosure(police_only=("uploaded_by",))

    class Meta:
        verbose_name = _("case file")
        verbose_name_plural = _("case files")
        ordering = ["case", "uploaded_at", "pk"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("disputes:caseattachment-detail", args=[self.pk])


class GroupWarning(models.Model):
    """A group-incident warning: several cases of one type in one enterprise within a short
    time, or a case with a group gathering. It raises an alert to the police
    (``alerts.Alert`` of type ``group_incident``), where it is acknowledged and handled."""

    class Reason(models.TextChoices):
        CLUSTER = "cluster", _("Several cases of one kind")
        GATHERING = "gathering", _("Group gathering reported")

    station = models.ForeignKey(
        "registry.Station", verbose_name=_("station"), on_delete=models.PROTECT, related_name="+"
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    type = models.CharField(_("dispute type"), max_length=16, choices=DisputeType.choices)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    first_at = models.DateTimeField(_("first case"))
    last_at = models.DateTimeField(_("last case"))
    case_count = models.PositiveIntegerField(_("cases"), default=0)
    cases = models.ManyToManyField(Case, verbose_name=_("cases"), related_name="group_warnings")
    alert = models.ForeignKey(
        "alerts.Alert",
        verbose_name=_("alert"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    objects = ScopedQuerySet.as_manager()
    scope = Scope(station="station")  # the police's only

    class Meta:
        verbose_name = _("group-incident warning")
        verbose_name_plural = _("group-incident warnings")
        ordering = ["-last_at", "-pk"]

    def __str__(self):
        return f"{self.get_type_display()} × {self.case_count} · {self.enterprise or ''}"

    def get_absolute_url(self):
        return reverse("disputes:groupwarning-detail", args=[self.pk])


class WarningInfo(models.Model):
    """预警性信息: a warning sign reported by the 警务秘书, an informant or an enterprise."""

    class Category(models.TextChoices):
        WAGE_ARREARS = "wage_arrears", _("Wage arrears")
        GATHERING = "gathering", _("Planned gathering or protest")
        PETITION = "petition", _("Petition (上访)")
        EXTREME = "extreme", _("Risk of extreme behaviour")
        CLOSURE = "closure", _("Closure, lay-offs or relocation")
        SAFETY = "safety", _("Public safety")
        OTHER = "other", _("Other")

    class Source(models.TextChoices):
        LIAISON = "liaison", _("Enterprise liaison (警务秘书)")
        INFORMANT = "informant", _("Informant")
        ENTERPRISE = "enterprise", _("Enterprise")
        OFFICER = "officer", _("Officer")
        OTHER = "other", _("Other")

    class Level(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")

    station = models.ForeignKey(
        "registry.Station", verbose_name=_("station"), on_delete=models.PROTECT, related_name="+"
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    level = models.CharField(_("level"), max_length=8, choices=Level.choices, default=Level.MEDIUM)
    title = models.CharField(_("title"), max_length=200)
    content = models.TextField(_("content"), blank=True)
    reported_at = models.DateTimeField(_("reported at"), default=timezone.now, db_index=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reporter = models.ForeignKey(
        "registry.Person",
        verbose_name=_("reporter"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified = models.BooleanField(_("verified"), default=False)
    verified_note = models.CharField(_("verification note"), max_length=200, blank=True)
    cases = models.ManyToManyField(
        Case, verbose_name=_("linked cases"), blank=True, related_name="warning_infos"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    # an enterprise sees what it reported itself, not what an informant or the police
    # reported about it; informants what they reported
    scope = Scope(
        station="station",
        enterprise="enterprise",
        person="reporter",
        enterprise_rows=Q(source="enterprise"),
    )
    disclosure = Disclosure(police_only=("source", "reported_by", "reporter"))

    class Meta:
        verbose_name = _("warning information")
        verbose_name_plural = _("warning information")
        ordering = ["-reported_at", "-pk"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("disputes:warninginfo-detail", args=[self.pk])

    def clean(self):
        if self.enterprise_id and self.enterprise.station_id != self.station_id:
            raise ValidationError(
                {"enterprise": _("The enterprise is not in this station's jurisdiction.")}
            )
