"""Sign-in, own profile, user management and API tokens."""

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
from anyuan.accounts.models import ApiToken, User
from anyuan.core import actions
from anyuan.core import views as generic
from anyuan.core.roles import CHANGE, VIEW


class LoginView(auth_views.LoginView):
    """Sign-in; after a failure the page says how many attempts are left before the
    lock-out (django-axes counts them per user name and address)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        cooloff = settings.AXES_COOLOFF_TIME
        context["lockout_limit"] = settings.AXES_FAILURE_LIMIT
        context["lockout_minutes"] = round(cooloff * 60) if isinstance(cooloff, int | float) else 15
        context["attempts_left"] = None
        form = context.get("form")
        if form is not None and form.is_bound and form.errors:
            username = form.data.get("username", "")
            failures = AxesProxyHandler.get_failures(self.request, {"username": username})
            context["attempts_left"] = max(settings.AXES_FAILURE_LIMIT - failures, 0)
        return context


class ProfileView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/profile.html"


class UserListView(generic.ObjectListView):
    model = User
    url_namespace = "accounts"
    columns = ["username", "first_name", "role", "station", "enterprise", "is_active"]
    search_fields = ["username", "first_name", "last_name"]
    filters = ["role", "enterprise"]


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
                label=gettext_lazy("Password"), widget=forms.PasswordInput, min_length=8
            )

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
