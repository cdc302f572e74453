from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from linkflow.engine import node_types


class NodeTypeListView(APIView):
    """Every node type with its parameter JSON schema and ports (the catalog the editor uses)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response([_describe(cls) for cls in node_types()])


def _describe(cls) -> dict:  # type: ignore[no-untyped-def]
    return {
        "type": cls.type,
        "label": cls.label,
        "description": cls.description,
        "is_trigger": cls.is_trigger,
        "params_schema": cls.params_schema,
        "outputs": list(cls.outputs),
    }
