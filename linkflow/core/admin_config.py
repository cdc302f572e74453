"""Installs ``OperatorAdminSite`` as ``django.contrib.admin.site`` (INSTALLED_APPS names
this config instead of "django.contrib.admin"), so every app's admin.py registers on it."""

from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    default_site = "linkflow.core.admin_site.OperatorAdminSite"
