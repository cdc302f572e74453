"""Pages for credentials."""

from django.urls import path

from . import views

app_name = "credentials"
urlpatterns = [
    path("credentials/", views.credential_list_page, name="list"),
    path("credentials/new/", views.credential_new, name="new"),
    path("credentials/new/<str:type>/", views.credential_create_page, name="create"),
    path("credentials/oauth2/return/", views.credential_oauth2_return, name="oauth2_return"),
    path("credentials/<uuid:pk>/", views.credential_edit_page, name="edit"),
    path("credentials/<uuid:pk>/delete/", views.credential_delete_page, name="delete"),
    path("credentials/<uuid:pk>/connect/", views.credential_connect, name="oauth2_connect"),
]
