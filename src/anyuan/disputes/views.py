"""Dispute pages: the case list, the phone-friendly filing form, one case with its steps,
the scoped file download, the parties' follow page (no account), statistics, warnings.

Every page reads through ``restrict()``; every change goes through
:mod:`anyuan.disputes.actions`.
"""

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from anyuan.core import actions as core_actions
from anyuan.core import ratelimit
from anyuan.core import views as generic
from anyuan.core.actions import ValidationFailed
from anyuan.core.personal import disclosed
from anyuan.core.roles import (
    ADD,
    CHANGE,
    PERSONAL_ROLES,
    VIEW,
    is_police,
    user_can,
)
from anyuan.disputes import actions, stats
from anyuan.disputes.models import (
    Case,
    CaseAttachment,
    CaseParty,
    DisputeType,
    Referral,
    Severity,
    State,
)
from anyuan.registry.models import Enterprise, Zone


def _errors(request, e: ValidationFailed):
    for msgs in e.errors.values():
        for msg in msgs:
            messages.error(request, msg)


# --- the list ------------------------------------------------------------------------------


class CaseListView(generic.ObjectListView):
    url_namespace = "disputes"
    columns = [
        "number",
        "reported_at",
        "type",
        "severity",
        "tier",
        "state",
        "enterprise",
        "due_close",
    ]
    search_fields = ["number", "summary", "reporter_name", "place"]
    filters = ["state", "tier", "type", "severity", "enterprise", "grid"]


# --- filing --------------------------------------------------------------------------------

PARTY_ROWS = 4


class FileForm(forms.Form):
    type = forms.ChoiceField(label=gettext_lazy("Type"), choices=DisputeType.choices)
    summary = forms.CharField(label=gettext_lazy("Summary"), max_length=200)
    severity = forms.ChoiceField(
        label=gettext_lazy("Severity"), choices=Severity.choices, initial=Severity.GENERAL
    )
    people_involved = forms.IntegerField(
        label=gettext_lazy("People involved"), min_value=1, max_value=100000, initial=2
    )
    threats = forms.BooleanField(label=gettext_lazy("Threats were made"), required=False)
    gathering = forms.BooleanField(label=gettext_lazy("A group is gathering"), required=False)
    enterprise = forms.ModelChoiceField(
        label=gettext_lazy("Enterprise"), queryset=Enterprise.objects.none(), required=False
    )
    zone = forms.ModelChoiceField(
        label=gettext_lazy("Workshop or zone"), queryset=Zone.objects.none(), required=False
    )
    place = forms.CharField(label=gettext_lazy("Place"), max_length=200, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if is_police(user):
            self.fields["enterprise"].queryset = Enterprise.objects.restrict(user, VIEW)
            self.fields["zone"].queryset = Zone.objects.restrict(user, VIEW)
        else:
            del self.fields["enterprise"]
            # the workshops of the filer's own enterprise (informants see no zone list)
            self.fields["zone"].queryset = (
                Zone.objects.filter(enterprise_id=user.enterprise_id)
                if user.enterprise_id
                else Zone.objects.none()
            )
        for name in ("people_involved",):
            self.fields[name].widget.attrs["inputmode"] = "numeric"


def _parties(post) -> list[dict]:
    rows = []
    for i in range(1, PARTY_ROWS + 1):
        rows.append(
            {
                "name": post.get(f"party_{i}_name", ""),
                "kind": post.get(f"party_{i}_kind", CaseParty.Kind.APPLICANT),
                "phone": post.get(f"party_{i}_phone", ""),
            }
        )
    return rows


class CaseFileView(LoginRequiredMixin, View):
    accepts_uploads = True  # signed-in requests may send up to the upload limit (core/bodylimit.py)
    template_name = "disputes/case_file.html"

    def check(self, request):
        if not user_can(request.user, Case, ADD):
            raise PermissionDenied(_("You may not add this."))

    def render(self, request, form, parties, status=200):
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "parties": parties,
                "party_kinds": CaseParty.Kind.choices,
                "list_url": reverse("disputes:case-list"),
            },
            status=status,
        )

    def get(self, request):
        self.check(request)
        parties = [{"name": "", "kind": "applicant" if i == 1 else "respondent", "phone": ""}
                   for i in range(1, PARTY_ROWS + 1)]  # fmt: skip
        return self.render(request, FileForm(user=request.user), parties)

    def post(self, request):
        self.check(request)
        form = FileForm(request.POST, user=request.user)
        parties = _parties(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            for name in ("enterprise", "zone"):
                if data.get(name) is not None:
                    data[name] = data[name].pk
            try:
                case, codes = actions.file_case(
                    request.user, data, parties, request.FILES.getlist("files"),
                    remote_addr=generic.client_ip(request),
                )  # fmt: skip
            except ValidationFailed as e:
                for field, errors in e.errors.items():
                    for err in errors:
                        form.add_error(field if field in form.fields else None, err)
            else:
                request.session[f"dispute_codes_{case.pk}"] = {str(k): v for k, v in codes.items()}
                messages.success(request, _("Case %(number)s filed.") % {"number": case.number})
                return HttpResponseRedirect(
                    reverse("disputes:case-detail", args=[case.pk]), status=303
                )
        return self.render(request, form, parties, status=400)


# --- one case ------------------------------------------------------------------------------


def follow_url(request, code: str) -> str:
    return request.build_absolute_uri(reverse("disputes:follow")) + "?code=" + code


def qr_svg(text: str) -> str:
    """An inline SVG QR code, made here (segno): no image service, no JavaScript."""
    return segno.make(text, error="m").svg_inline(scale=3, border=2, dark="#10243e")


def history(case: Case) -> list:
    return list(case.transitions.all().order_by("at", "pk"))


class CaseDetailView(generic.ObjectMixin, View):
    accepts_uploads = True  # the agreement and case files (core/bodylimit.py)
    url_namespace = "disputes"
    template_name = "disputes/case_detail.html"

    def get(self, request, *args, **kwargs):
        case = self.get_object()
        user = request.user
        steps = actions.available_steps(user, case)
        codes = request.session.pop(f"dispute_codes_{case.pk}", None) or {}
        parties = list(case.parties.all())
        shown = []
        for party in parties:
            code = codes.get(str(party.pk))
            shown.append(
                {
                    "party": party,
                    "code": code,
                    "qr": mark_safe(qr_svg(follow_url(request, code))) if code else "",  # noqa: S308 — segno's own SVG
                }
            )
        can_change = bool(steps) or Case.objects.restrict(user, CHANGE).filter(pk=case.pk).exists()
        police = is_police(user)
        # the case and its steps as the model's disclosure lets this user see them: who
        # reported it is the police's (and the reporter's own)
        shown_case = disclosed(case, user)
        return render(
            request,
            self.template_name,
            self.context(
                object=shown_case,
                case=shown_case,
                steps=steps,
                step_labels=actions.STEP_LABELS,
                referrals=Referral.choices,
                parties=shown,
                history=[disclosed(t, user) for t in history(case)],
                attachments=case.attachments.all(),
                attachment_kinds=CaseAttachment.Kind.choices,
                can_attach=user_can(user, CaseAttachment, ADD),
                can_reissue=can_change and actions.handler_may(user, case, "accept"),
                partners=case.partners.all() if police or user.role not in PERSONAL_ROLES else [],
                partner_candidates=actions.partner_candidates(case).exclude(
                    pk__in=case.partners.values("pk")
                )
                if police and case.tier == 3
                else [],
                warnings=case.group_warnings.all() if police else [],
                file_max_mb=round(actions.file_max() / 2**20),
            ),
        )

    def post(self, request, *args, **kwargs):
        case = self.get_object()
        what = request.POST.get("step", "")
        remote = generic.client_ip(request)
        try:
            if what in actions.STEPS:
                actions.step(
                    request.user, case, what,
                    note=request.POST.get("note", ""),
                    to=request.POST.get("to", ""),
                    agreement=request.FILES.get("agreement"),
                    remote_addr=remote,
                )  # fmt: skip
                messages.success(request, str(actions.STEP_LABELS[what]))
            elif what == "attach":
                upload = request.FILES.get("file")
                if upload is None:
                    raise ValidationFailed({"file": [_("Choose a file.")]})
                actions.add_attachment(
                    request.user, case, upload, request.POST.get("kind", "evidence"),
                    remote_addr=remote,
                )  # fmt: skip
                messages.success(request, _("File added."))
            elif what == "invite":
                actions.invite_partner(
                    request.user, case, request.POST.get("partner"), remote_addr=remote
                )
                messages.success(request, str(actions.STEP_LABELS["invite"]))
            elif what == "reissue":
                party = (
                    case.parties.filter(pk=request.POST.get("party") or 0).first()
                    if ((request.POST.get("party") or "").isdigit())
                    else None
                )
                if party is None:
                    raise ValidationFailed({"party": [_("Unknown reference.")]})
                code = actions.reissue_code(request.user, party, remote_addr=remote)
                request.session[f"dispute_codes_{case.pk}"] = {str(party.pk): code}
                messages.success(
                    request, _("A new access code was issued; the old one no longer works.")
                )
            else:
                messages.error(request, _("Unknown step."))
        except ValidationFailed as e:
            _errors(request, e)
        except PermissionDenied as e:
            messages.error(request, str(e))
        return HttpResponseRedirect(reverse("disputes:case-detail", args=[case.pk]), status=303)


class AttachmentView(generic.ObjectMixin, View):
    """A case file, for those who may view the case (never a public URL)."""

    url_namespace = "disputes"

    def get(self, request, *args, **kwargs):
        row = self.get_object()
        try:
            handle = row.file.open("rb")
        except OSError:
            raise Http404(_("The file is missing.")) from None
        return FileResponse(
            handle, as_attachment=True, filename=row.name, content_type=row.content_type
        )

    def post(self, request, *args, **kwargs):
        self.get_object()
        return HttpResponseNotAllowed(["GET"])


# --- the parties' page (no account) --------------------------------------------------------

FOLLOW_SESSION = "dispute_party"
THROTTLE_FAILURES = 10  # wrong codes per address per window
THROTTLE_WINDOW = 15 * 60


def _throttle_key(request) -> str:
    return f"disputes:follow:fail:{generic.client_ip(request) or '-'}"


def throttled(request) -> bool:
    return ratelimit.blocked(_throttle_key(request), THROTTLE_FAILURES, THROTTLE_WINDOW)


def _failed(request) -> None:
    ratelimit.hit(_throttle_key(request), THROTTLE_FAILURES, THROTTLE_WINDOW)


class FollowView(View):
    """``/disputes/follow/``: a party enters (or scans) their access code and follows their
    case — its state, tier and steps — and rates the mediation at closing. The code is
    exchanged for a session entry at once, so it does not stay in the address bar. Wrong
    codes are throttled per address; an unknown code says nothing about other cases."""

    template_name = "disputes/follow.html"

    def party(self, request):
        pk = request.session.get(FOLLOW_SESSION)
        if not pk:
            return None
        return CaseParty.objects.select_related("case", "case__enterprise").filter(pk=pk).first()

    def page(self, request, party=None, status=200, error=""):
        case = party.case if party else None
        context = {"party": party, "case": case, "error": error}
        if case is not None:
            context.update(
                steps=[
                    {
                        "at": t.at,
                        "name": actions.STEP_LABELS.get(t.name, t.name),
                        "tier": t.tier_to,
                        "state": dict(State.choices).get(t.target, t.target),
                        "note": t.note,
                    }
                    for t in history(case)
                    if t.name != "invite"
                ],
                can_rate=case.state in actions.RATABLE and party.rated_at is None,
            )
        response = render(request, self.template_name, context, status=status)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response

    def enter(self, request, code: str):
        if throttled(request):
            return self.page(
                request, status=429, error=_("Too many wrong codes. Try again in 15 minutes.")
            )
        party = actions.party_for_code(code)
        if party is None:
            _failed(request)
            request.session.pop(FOLLOW_SESSION, None)
            return self.page(
                request, status=404, error=_("Unknown case code. Check the code on your notice.")
            )
        request.session.cycle_key()
        request.session[FOLLOW_SESSION] = party.pk
        actions.seen_by_party(party)
        return HttpResponseRedirect(reverse("disputes:follow"), status=303)

    def get(self, request):
        code = request.GET.get("code")
        if code is not None:
            return self.enter(request, code)
        return self.page(request, self.party(request))

    def post(self, request):
        if "code" in request.POST:
            return self.enter(request, request.POST.get("code", ""))
        party = self.party(request)
        if party is None:
            return self.page(request, status=403, error=_("Enter your case code first."))
        if "leave" in request.POST:
            request.session.pop(FOLLOW_SESSION, None)
            return HttpResponseRedirect(reverse("disputes:follow"), status=303)
        try:
            actions.rate(party, request.POST.get("satisfaction"), request.POST.get("comment", ""))
        except ValidationFailed as e:
            return self.page(
                request,
                party,
                status=400,
                error=" ".join(m for ms in e.errors.values() for m in ms),
            )
        messages.success(request, _("Thank you for your rating."))
        return HttpResponseRedirect(reverse("disputes:follow"), status=303)


# --- statistics ----------------------------------------------------------------------------


class StatsView(LoginRequiredMixin, View):
    template_name = "disputes/stats.html"

    def get(self, request):
        user = request.user
        if not user_can(user, Case, VIEW):
            raise PermissionDenied(_("You may not do this."))
        this_year = timezone.localdate().year
        try:
            year = int(request.GET.get("year") or this_year)
            if not 2000 <= year <= 2100:
                raise ValueError
        except ValueError:
            year = this_year
        qs = stats.for_year(Case.objects.restrict(user, VIEW), year)
        return render(
            request,
            self.template_name,
            {
                "year": year,
                "years": list(range(this_year, this_year - 5, -1)),
                "summary": stats.summary(qs),
                "tables": stats.breakdowns(qs),
                "list_url": reverse("disputes:case-list"),
            },
        )


# --- warnings ------------------------------------------------------------------------------


class GroupWarningListView(generic.ObjectListView):
    url_namespace = "disputes"
    columns = ["last_at", "type", "reason", "enterprise", "case_count", "alert"]
    search_fields = ["enterprise__name"]
    filters = ["type", "reason", "enterprise"]


class GroupWarningDetailView(generic.ObjectDetailView):
    url_namespace = "disputes"


class WarningInfoListView(generic.ObjectListView):
    url_namespace = "disputes"
    columns = ["reported_at", "title", "category", "source", "level", "enterprise", "verified"]
    search_fields = ["title", "content"]
    filters = ["category", "source", "level", "verified", "enterprise"]


class WarningInfoDetailView(generic.ObjectDetailView):
    url_namespace = "disputes"


class WarningInfoEditView(generic.ObjectEditView):
    """Police: every field (verification, linked cases); others: what they report."""

    url_namespace = "disputes"

    @property
    def fields(self):
        user = self.request.user
        if is_police(user):
            return ["enterprise", "category", "source", "level", "title", "content",
                    "reported_at", "verified", "verified_note", "cases"]  # fmt: skip
        return ["category", "level", "title", "content"]

    def post(self, request, *args, **kwargs):
        obj = self.instance()
        form = self.form_class()(request.POST, instance=obj)
        if form.is_valid():
            data = form.changed_cleaned_data()
            user = request.user
            try:
                if obj is None:
                    obj = actions.report_warning(user, data, remote_addr=generic.client_ip(request))
                else:
                    fresh = self.get_object(CHANGE)
                    obj = core_actions.update(
                        user, fresh, data, remote_addr=generic.client_ip(request)
                    )
            except ValidationFailed as e:
                for field, errors in e.errors.items():
                    for err in errors:
                        form.add_error(field if field in form.fields else None, err)
            except PermissionDenied as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, _("Saved."))
                return HttpResponseRedirect(self.url("detail", obj.pk))
        return render(request, self.template_name, self.context(form=form, object=obj), status=400)
