from typing import Any

from rest_framework import serializers

from linkflow.core.fields import StrictCharField

from ..models import Membership, Role, Workspace


class WorkspaceInSerializer(serializers.Serializer[Any]):
    name = StrictCharField(max_length=150)


class WorkspaceOutSerializer(serializers.ModelSerializer[Workspace]):
    # The caller's own role, annotated by the selector (absent right after a create).
    role = serializers.SerializerMethodField()
    personal = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = ("id", "name", "role", "personal", "created_at", "updated_at")
        read_only_fields = fields

    def get_role(self, workspace: Workspace) -> str | None:
        return getattr(workspace, "role", None) or self.context.get("role")

    def get_personal(self, workspace: Workspace) -> bool:
        return workspace.personal_owner_id is not None


class MemberAddSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.EDITOR)


class MemberRoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberOutSerializer(serializers.ModelSerializer[Membership]):
    user_id = serializers.UUIDField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.name", read_only=True)

    class Meta:
        model = Membership
        fields = ("user_id", "email", "name", "role", "created_at")
        read_only_fields = fields
