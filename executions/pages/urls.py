"""Pages for the execution list."""

from django.urls import path

from executions.pages import list_views as views

app_name = "executions"
urlpatterns = [
    path("executions/", views.execution_list_page, name="list"),
    path("executions/rows/", views.execution_rows, name="rows"),
]
