from django.contrib.auth import views as auth_views
from django.urls import path, re_path
from django.views.i18n import JavaScriptCatalog

from frontend import notice_views, views, workspace_views

urlpatterns = [
    path("", views.home, name="home"),
    path("sessions/mine/", views.my_sessions, name="my-sessions"),
    path("notices/", notice_views.notices_page, name="notices-page"),
    path("notices/read/", notice_views.notices_mark_read, name="notices-mark-read"),
    path("unsubscribe/<str:token>/", notice_views.unsubscribe, name="unsubscribe"),
    path("sessions/<int:session_id>/", views.session_detail, name="session-page"),
    path("streams/<int:stream_id>/", views.stream_detail, name="stream-page"),
    path("streams/<int:stream_id>/host/", views.stream_host, name="stream-host"),
    path("plan/", workspace_views.plan_index, name="plan-index"),
    path("plan/<int:series_id>/", workspace_views.plan_board, name="plan-board"),
    path("plan/<int:series_id>/sessions/new/", workspace_views.session_new, name="plan-session-new"),
    path("plan/sessions/<int:session_id>/", workspace_views.session_edit, name="plan-session-edit"),
    path("plan/sessions/<int:session_id>/publish/", workspace_views.session_publish, name="plan-session-publish"),
    path("plan/sessions/<int:session_id>/cancel/", workspace_views.session_cancel, name="plan-session-cancel"),
    path("plan/<int:series_id>/import/", workspace_views.plan_import, name="plan-import"),
    re_path(
        r"^plan/(?P<series_id>[0-9]+)/import/template\.(?P<fmt>csv|xlsx)$",
        workspace_views.plan_import_template,
        name="plan-import-template",
    ),
    path("plan/<int:series_id>/figures/", workspace_views.series_figures, name="plan-figures"),
    path("plan/sessions/<int:session_id>/roster/", workspace_views.roster, name="roster"),
    path("plan/sessions/<int:session_id>/roster.csv", workspace_views.roster_csv, name="roster-csv"),
    path("plan/sessions/<int:session_id>/draw/", workspace_views.session_draw_run, name="plan-session-draw"),
    path("host/", workspace_views.host_home, name="host-home"),
    path("host/streams/<int:stream_id>/status/", workspace_views.stream_status_set, name="stream-status-set"),
    path("door/<int:session_id>/", workspace_views.door, name="door"),
    path("accounts/signup/", views.signup, name="signup-page"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="home"), name="logout"),
    path("language/", views.language_switch, name="language-switch"),
    path("verify-email/", views.verify_email, name="verify-email"),
    # The texts app.js and live.js show, in the page's language (djangojs catalogues).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
]
