from django.urls import path

from anyuan.core import views as generic
from anyuan.disputes import views
from anyuan.disputes.models import Case, CaseAttachment, GroupWarning, WarningInfo

app_name = "disputes"

urlpatterns = [
    path("", views.CaseListView.as_view(model=Case), name="case-list"),
    path("new/", views.CaseFileView.as_view(), name="case-add"),
    path("<int:pk>/", views.CaseDetailView.as_view(model=Case), name="case-detail"),
    path(
        "files/<int:pk>/",
        views.AttachmentView.as_view(model=CaseAttachment),
        name="caseattachment-detail",
    ),
    path("follow/", views.FollowView.as_view(), name="follow"),
    path("stats/", views.StatsView.as_view(), name="stats"),
    *generic.object_urls(
        "warnings",
        GroupWarning,
        list_view=views.GroupWarningListView,
        detail_view=views.GroupWarningDetailView,
    ),
    *generic.object_urls(
        "information",
        WarningInfo,
        list_view=views.WarningInfoListView,
        detail_view=views.WarningInfoDetailView,
        edit_view=views.WarningInfoEditView,
    ),
]
