"""Sign-in, own profile, user management and API tokens."""

from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from anyuan.accounts import actions as account_actions
from anyuan.accounts import lockout, twofactor
from anyuan.accounts.models import ApiToken, User
from anyuan.core import actions
from anyuan.core import views as generic
from anyuan.core.roles import CHANGE, VIEW


class LoginView(auth_views.LoginView):
    """Sign-in, first step: the password. After a failure the page says how many attempts
    are left before the lock-out (accounts/lockout.py). A user who must use a second
    factor goes on to the code step (accounts/twofactor.py)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_success_url(self):
        url = super().get_success_url()
        if twofactor.pending(self.request):
            return f"{reverse('accounts:two-factor')}?{urlencode({'next': url})}"
        return url

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["lockout_limit"] = settings.ANYUAN_LOGIN_FAILURE_LIMIT
        context["lockout_minutes"] = settings.ANYUAN_LOGIN_COOLOFF_MINUTES
        context["attempts_left"] = None
        form = context.get("form")
        if form is not None and form.is_bound and form.errors:
            username = form.data.get("username", "")
            failures = AxesProxyHandler.get_failures(self.request, {"username": username})
            context["attempts_left"] = max(settings.AXES_FAILURE_LIMIT - failures, 0)
        return context


class SignInStepMixin(LoginRequiredMixin):
    """The second-factor pages: for a user who must use one, until the session passed it."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.next_url = twofactor.safe_next(request)
        if not twofactor.pending(request):
            return HttpResponseRedirect(self.next_url)
        return super().dispatch(request, *args, **kwargs)

    def failed(self, template, error: actions.ValidationFailed, **context):
        user = self.request.user
        locked = twofactor.throttled(user)
        return render(
            self.request,
            template,
            {
                "error": " ".join(str(m) for m in error.errors.get("code", [])),
                "attempts_left": None if locked else twofactor.attempts_left(user),
                "locked": locked,
                "next": self.next_url,
                **context,
            },
            status=429 if locked else 400,
        )


class TwoFactorView(SignInStepMixin, View):
    """Sign-in, second step: a code from the authenticator app, or a recovery code."""

    template_name = "registration/two_factor.html"

    def get(self, request):
        if not twofactor.enrolled(request.user):
            enrol = reverse("accounts:two-factor-enrol")
            return HttpResponseRedirect(f"{enrol}?{urlencode({'next': self.next_url})}")
        locked = twofactor.throttled(request.user)
        return render(
            request,
            self.template_name,
            {
                "next": self.next_url,
                "locked": locked,
                "error": _(
                    "Too many wrong codes. Wait a while or ask your police administrator to unlock your sign-in."
                )
                if locked
                else "",
            },
        )

    def post(self, request):
        if not twofactor.enrolled(request.user):
            return self.get(request)
        try:
            device = account_actions.verify_second_factor(
                request.user, request.POST.get("code", ""), remote_addr=generic.client_ip(request)
            )
        except actions.ValidationFailed as e:
            return self.failed(self.template_name, e)
        twofactor.mark_passed(request, device)
        return HttpResponseRedirect(self.next_url)


class TwoFactorEnrolView(SignInStepMixin, View):
    """Set up the authenticator: QR code and key, confirmed with a code; then the recovery
    codes, shown once. Only while the user has no confirmed authenticator: a password
    alone never replaces one (a police administrator resets it)."""

    template_name = "registration/two_factor_enrol.html"

    def context(self, device, **extra):
        return {
            "qr_svg": twofactor.qr_svg(device),
            "secret": twofactor.secret(device),
            "next": self.next_url,
            **extra,
        }

    def get(self, request):
        device = account_actions.start_enrolment(request.user)
        if device is None:
            step = reverse("accounts:two-factor")
            return HttpResponseRedirect(f"{step}?{urlencode({'next': self.next_url})}")
        return render(
            request,
            self.template_name,
            self.context(device, locked=twofactor.throttled(request.user)),
        )

    def post(self, request):
        device = account_actions.start_enrolment(request.user)
        if device is None:
            return self.get(request)
        try:
            codes = account_actions.confirm_enrolment(
                request.user,
                device,
                request.POST.get("code", ""),
                remote_addr=generic.client_ip(request),
            )
        except actions.ValidationFailed as e:
            return self.failed(self.template_name, e, **self.context(device))
        device.refresh_from_db()
        twofactor.mark_passed(request, device)
        return render(
            request,
            "registration/recovery_codes.html",
            {
                "codes": [twofactor.show_code(c) for c in codes],
                "enrolled": True,
                "next": self.next_url,
            },
        )


class RecoveryCodesView(LoginRequiredMixin, View):
    """New recovery codes for oneself (the old ones stop working), shown once."""

    def get(self, request):
        return HttpResponseRedirect(reverse("accounts:profile"))

    def post(self, request):
        try:
            codes = account_actions.regenerate_recovery_codes(
                request.user, remote_addr=generic.client_ip(request)
            )
        except actions.ValidationFailed:
            messages.error(request, _("Set up two-factor sign-in first."))
            return HttpResponseRedirect(reverse("accounts:profile"))
        return render(
            request,
            "registration/recovery_codes.html",
            {
                "codes": [twofactor.show_code(c) for c in codes],
                "enrolled": False,
                "next": reverse("accounts:profile"),
            },
        )


class UserSignInView(generic.ObjectMixin, View):
    """A user's sign-in security, for a police administrator: whether the user name is
    locked and whether two-factor sign-in is set up; unlock, reset two-factor."""

    model = User
    url_namespace = "accounts"
    action = CHANGE
    template_name = "accounts/sign_in.html"

    def page(self, request, user, status=200):
        return render(
            request,
            self.template_name,
            self.context(
                object=user,
                locked=lockout.user_locked(user.username) or twofactor.throttled(user),
                two_factor_required=twofactor.required(user),
                enrolled=twofactor.enrolled(user),
                recovery_codes_left=twofactor.recovery_codes_left(user),
                may_manage=account_actions.may_manage_sign_in(request.user, user),
            ),
            status=status,
        )

    def get(self, request, pk):
        return self.page(request, self.get_object())

    def post(self, request, pk):
        user = self.get_object()
        what = request.POST.get("action")
        if what == "unlock":
            account_actions.unlock_sign_in(
                request.user, user, remote_addr=generic.client_ip(request)
            )
            messages.success(request, _("Sign-in unlocked."))
        elif what == "reset-two-factor":
            account_actions.reset_two_factor(
                request.user, user, remote_addr=generic.client_ip(request)
            )
            messages.success(
                request,
                _("Two-factor sign-in reset: the user sets it up again at the next sign-in."),
            )
        else:
            return self.page(request, user, status=400)
        return HttpResponseRedirect(reverse("accounts:user-sign-in", args=[user.pk]))


class ProfileView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/profile.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            two_factor_required=twofactor.required(user),
            two_factor_enrolled=twofactor.enrolled(user),
            recovery_codes_left=twofactor.recovery_codes_left(user),
            **kwargs,
        )


class UserListView(generic.ObjectListView):
    model = User
    url_namespace = "accounts"
    columns = ["username", "first_name", "role", "station", "enterprise", "is_active"]
    search_fields = ["username", "first_name", "last_name"]
    filters = ["role", "enterprise"]


class UserDetailView(generic.ObjectDetailView):
    template_name = "accounts/user_detail.html"  # + a link to the user's sign-in security


class UserEditView(generic.ObjectEditView):
    model = User
    url_namespace = "accounts"
    fields = [
        "username",
        "first_name",
        "last_name",
        "email",
        "role",
        "station",
        "enterprise",
        "person",
        "is_active",
    ]

    def form_class(self):
        base = super().form_class()
        roles = account_actions.assignable_roles(self.request.user)

        class UserForm(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                # only the roles the user may give (core.roles.MANAGED_BY), named in full
                role = self.fields["role"]
                role.choices = [("", "---------"), *roles]
                role.help_text = _("Roles you may give: %(roles)s.") % {
                    "roles": ", ".join(str(label) for _value, label in roles)
                }

        if "pk" in self.kwargs:
            return UserForm

        class NewUserForm(UserForm):
            password = forms.CharField(
                label=gettext_lazy("Password"), widget=forms.PasswordInput
            )  # the rules are the password validators' (create_user runs them)

        return NewUserForm

    def post(self, request, *args, **kwargs):
        if "pk" in self.kwargs:
            return self.change(request)
        self.instance()  # permission to add
        form = self.form_class()(request.POST)
        if form.is_valid():
            data = form.changed_cleaned_data()
            password = data.pop("password")
            try:
                user = account_actions.create_user(
                    request.user, data, password, remote_addr=generic.client_ip(request)
                )
            except actions.ValidationFailed as e:
                for field, errors in e.errors.items():
                    for err in errors:
                        form.add_error(field if field in form.fields else None, err)
            else:
                messages.success(request, _("User created."))
                return HttpResponseRedirect(self.url("detail", user.pk))
        return render(request, self.template_name, self.context(form=form, object=None), status=400)

    def change(self, request):
        obj = self.get_object(CHANGE)
        form = self.form_class()(request.POST, instance=obj)
        if form.is_valid():
            data = form.changed_cleaned_data()
            try:
                # the form has written into its instance; the action starts from the stored row
                user = account_actions.update_user(
                    request.user,
                    self.get_object(CHANGE),
                    data,
                    remote_addr=generic.client_ip(request),
                )
            except actions.ValidationFailed as e:
                for field, errors in e.errors.items():
                    for err in errors:
                        form.add_error(field if field in form.fields else None, err)
            else:
                messages.success(request, _("Saved."))
                return HttpResponseRedirect(self.url("detail", user.pk))
        context = self.context(form=form, object=self.get_object(CHANGE))
        return render(request, self.template_name, context, status=400)


class UserPasswordView(generic.ObjectMixin, View):
    model = User
    url_namespace = "accounts"
    action = CHANGE
    template_name = "accounts/password.html"

    def get_object(self, action=None):
        # everyone changes their own password (the profile links here); others' only if
        # the user manages them
        if self.kwargs.get("pk") == self.request.user.pk:
            return User.objects.get(pk=self.request.user.pk)
        return super().get_object(action)

    def get(self, request, pk):
        user = self.get_object()
        return render(
            request, self.template_name, self.context(object=user, form=SetPasswordForm(user))
        )

    def post(self, request, pk):
        user = self.get_object()
        form = SetPasswordForm(user, request.POST)
        if form.is_valid():
            account_actions.set_password(
                request.user,
                user,
                form.cleaned_data["new_password1"],
                remote_addr=generic.client_ip(request),
            )
            if user.pk == request.user.pk:  # this session goes on; the user's others end
                update_session_auth_hash(request, user)
            messages.success(request, _("Password changed."))
            return HttpResponseRedirect(self.url("detail", user.pk))
        return render(request, self.template_name, self.context(object=user, form=form), status=400)


class TokenListView(generic.ObjectListView):
    url_namespace = "accounts"
    columns = ["name", "user", "key_prefix", "created", "last_used", "expires", "revoked"]
    search_fields = ["name"]


class TokenIssueForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].help_text = _(
            "The token acts as you. It expires after %(days)d days, and when your password changes."
        ) % {"days": ApiToken.ttl().days}


class TokenIssueView(generic.ObjectMixin, View):
    """Issue a token for oneself; the key is shown once."""

    url_namespace = "accounts"
    template_name = "accounts/token_issue.html"

    def get(self, request):
        return render(request, self.template_name, self.context(form=TokenIssueForm()))

    def post(self, request):
        form = TokenIssueForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, self.context(form=form), status=400)
        token, key = account_actions.issue_token(
            request.user,
            request.user,
            form.cleaned_data["name"],
            remote_addr=generic.client_ip(request),
        )
        return render(request, self.template_name, self.context(form=None, token=token, key=key))


class TokenRevokeView(generic.ObjectMixin, View):
    url_namespace = "accounts"
    action = CHANGE

    def post(self, request, pk):
        token = self.get_object()
        account_actions.revoke_token(request.user, token, remote_addr=generic.client_ip(request))
        messages.success(request, _("Token revoked."))
        return HttpResponseRedirect(reverse("accounts:apitoken-list"))


__all__ = ["VIEW"]
