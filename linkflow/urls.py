from django.contrib import admin
from django.urls import include, path

from linkflow.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("linkflow.api_v1")),
]

handler404 = core_views.not_found
handler500 = core_views.server_error
