from django.contrib.auth import views as auth_views
from django.urls import path

from anyuan.accounts import views
from anyuan.accounts.models import ApiToken, User
from anyuan.core import views as generic

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("two-factor/", views.TwoFactorView.as_view(), name="two-factor"),
    path("two-factor/enrol/", views.TwoFactorEnrolView.as_view(), name="two-factor-enrol"),
    path(
        "two-factor/recovery-codes/",
        views.RecoveryCodesView.as_view(),
        name="two-factor-recovery-codes",
    ),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("users/<int:pk>/sign-in/", views.UserSignInView.as_view(), name="user-sign-in"),
    path(
        "users/<int:pk>/password/", views.UserPasswordView.as_view(model=User), name="user-password"
    ),
    path("tokens/new/", views.TokenIssueView.as_view(model=ApiToken), name="apitoken-add"),
    path(
        "tokens/<int:pk>/revoke/",
        views.TokenRevokeView.as_view(model=ApiToken),
        name="apitoken-revoke",
    ),
    *generic.object_urls(
        "users",
        User,
        list_view=views.UserListView,
        detail_view=views.UserDetailView,
        edit_view=views.UserEditView,
    ),
    *generic.object_urls(
        "tokens", ApiToken, list_view=views.TokenListView, detail_view=generic.ObjectDetailView
    ),
]
