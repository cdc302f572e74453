"""Pages for accounts and workspaces: sign-up, passwords, members, API keys."""

from django.urls import path

from linkflow.accounts import api_key_views, views, web, workspace_views

app_name = "accounts"
urlpatterns = [
    path("workspace/switch/", web.workspace_switch, name="workspace_switch"),
    path("workspace/new/", workspace_views.workspace_new, name="workspace_new"),
    path("workspace/rename/", workspace_views.workspace_rename, name="workspace_rename"),
    path("workspace/delete/", workspace_views.workspace_delete, name="workspace_delete"),
    path("workspace/members/", workspace_views.members, name="members"),
    path("workspace/members/add/", workspace_views.member_add, name="member_add"),
    path(
        "workspace/members/<uuid:user_id>/role/",
        workspace_views.member_role,
        name="member_role",
    ),
    path(
        "workspace/members/<uuid:user_id>/remove/",
        workspace_views.member_remove,
        name="member_remove",
    ),
    path("settings/api-keys/", api_key_views.api_keys, name="api_keys"),
    path(
        "settings/api-keys/<uuid:key_id>/revoke/",
        api_key_views.api_key_revoke_view,
        name="api_key_revoke",
    ),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/password/change/", views.password_change, name="password_change"),
    path(
        "accounts/password/change/done/",
        views.password_change_done,
        name="password_change_done",
    ),
    path("accounts/password/reset/", views.password_reset, name="password_reset"),
    path("accounts/password/reset/sent/", views.password_reset_done, name="password_reset_done"),
    path(
        "accounts/password/reset/complete/",
        views.password_reset_complete,
        name="password_reset_complete",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
]
