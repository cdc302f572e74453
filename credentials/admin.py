from django.contrib import admin

from .models import Credential


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    """Secrets are never shown: the encrypted field is not even listed."""

    list_display = ("name", "type", "workspace", "created_by", "updated_at")
    list_filter = ("type",)
    search_fields = ("name", "workspace__name")
    fields = ("id", "workspace", "name", "type", "created_by", "created_at", "updated_at")
    readonly_fields = ("id", "workspace", "type", "created_by", "created_at", "updated_at")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
