from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from linkflow.engine import NodeType, node_settings_schema, node_types


class NodeTypeOutSerializer(serializers.Serializer[Any]):
    type = serializers.CharField(help_text="Namespaced `family.name`, e.g. `http.request`.")
    label = serializers.CharField()  # type: ignore[assignment]  # shadows a Field attribute
    description = serializers.CharField()
    is_trigger = serializers.BooleanField()
    params_schema = serializers.JSONField(help_text="JSON Schema of the node's `params`.")
    outputs = serializers.ListField(
        child=serializers.CharField(),
        help_text="Output ports (of a node at the current version with default params).",
    )
    outputs_from = serializers.JSONField(
        allow_null=True,
        help_text=(
            "When the ports depend on the params (flow.switch): `{list, label, extra: "
            "{param, equals, port}, since_version, before}`: from `since_version` on, one "
            "port per entry of `params[list]`, named by its `label` key or else its index, "
            "plus `extra.port` when `params[extra.param] == extra.equals`; before it, the "
            "ports `before`. Null when `outputs` are the ports."
        ),
    )
    version = serializers.IntegerField(
        help_text="The type's current version; new nodes record it as their `version`."
    )
    item_mode = serializers.ChoiceField(
        choices=["per_item", "batch"],
        help_text="`per_item`: errors, retries and lineage per item; `batch`: all at once.",
    )
    outside_effects = serializers.BooleanField(
        help_text="Running it reaches past LinkFlow (a request, a mail, a row, a message): "
        "test runs run it for real, so the editor asks first."
    )
    credential_types = serializers.ListField(
        child=serializers.CharField(),
        help_text="The credential types a node of this type may name in `credential`"
        " (empty: it takes none). Saving refuses another type or an id that is not a"
        " credential of the workspace; activation and execution refuse a node that needs"
        " one and names none.",
    )
    settings_schema = serializers.JSONField(
        help_text="JSON Schema of the node's own settings beside `params` (retry,"
        " timeout_seconds, on_error, disabled, notes); the same for every type."
    )


class NodeTypeListView(APIView):
    """Every node type with its parameter JSON schema and ports (the catalog the editor uses)."""

    # For API keys and OAuth2 tokens (linkflow.accounts.scoping.HasScope).
    required_scopes = {"read": "workflows:read", "write": "workflows:write"}

    @extend_schema(responses=NodeTypeOutSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response([_describe(cls) for cls in node_types()])


def _describe(cls: type[NodeType]) -> dict[str, Any]:
    return {
        "type": cls.type,
        "label": cls.label,
        "description": cls.description,
        "is_trigger": cls.is_trigger,
        "params_schema": cls.params_schema,
        "credential_types": list(cls.credential_types),
        "settings_schema": node_settings_schema(),
        **node_type_ports(cls),
    }


def node_type_ports(cls: type[NodeType]) -> dict[str, Any]:
    """The port fields of a node type's description: ``outputs`` at the current version
    with default params, ``outputs_from``, ``version`` and ``item_mode``; and
    ``outside_effects``, which the editor warns of before a test run."""
    return {
        "outputs": list(cls.ports({}, cls.version)),
        "outputs_from": getattr(cls, "outputs_from", None),
        "version": cls.version,
        "item_mode": cls.item_mode,
        "outside_effects": cls.reaches_outside(),
    }
