from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from linkflow.core.admin_readonly import NoAddOrChange

from .models import Credential


@admin.register(Credential)
class CredentialAdmin(NoAddOrChange, admin.ModelAdmin[Credential]):
    """Secrets are never shown, not even encrypted: the ``secret`` column is neither listed
    nor loaded. Read-only: users change credentials through the service, which re-encrypts
    and audits; an operator looks, or deletes a leaked one."""

    list_display = ("name", "type", "workspace", "created_by", "created_at", "updated_at")
    list_filter = ("type", "created_at")
    search_fields = ("name", "=id", "workspace__name", "=workspace__id")
    list_select_related = ("workspace", "created_by")
    date_hierarchy = "created_at"
    fields = ("id", "workspace", "name", "type", "created_by", "created_at", "updated_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Credential]:
        return super().get_queryset(request).defer("secret")
