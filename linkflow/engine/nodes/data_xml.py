"""data.xml: XML to JSON and back.

XML from outside is parsed with defusedxml and DTDs, entity declarations and external
references refused, so no "billion laughs" expansion and no file or network read can be
triggered by a document. JSON shape: an element is an object; attributes are "@name",
text beside children is "#text", repeated children become a list, and an element with
only text is that text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any, ClassVar

import defusedxml
import defusedxml.ElementTree

from linkflow.engine.errors import NodeError
from linkflow.engine.nodes.data import FIELD_NAME_SCHEMA, get_path, set_path
from linkflow.engine.registry import Items, NodeType

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

MAX_XML_CHARS = 5_000_000
MAX_DEPTH = 100
_NAME = re.compile(r"[A-Za-z_][\w.-]*(:[A-Za-z_][\w.-]*)?")


class Xml(NodeType):
    """Converts XML text to JSON objects, or JSON objects to XML text."""

    type = "data.xml"
    pure = True
    label = "XML"
    description = "Parses XML into objects (entity expansion off) or writes objects as XML."
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["to_json", "to_xml"]},
            "field": {**FIELD_NAME_SCHEMA, "description": "The field to read.", "default": "data"},
            "output_field": {**FIELD_NAME_SCHEMA, "default": "data"},
        },
        "required": ["mode"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """Every item with ``output_field`` set to the conversion of ``field``. Raises
        NodeError for malformed or forbidden XML (a DTD or entity), or an object that
        is not one root element."""
        return {"main": [out for i, item in enumerate(items) for out in self._one(ctx, item, i)]}

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        source = get_path(item, ctx.params.get("field", "data"))
        if ctx.params["mode"] == "to_json":
            result: Any = xml_to_json(source, index=index)
        else:
            result = json_to_xml(source, index=index)
        out = dict(item)
        set_path(out, ctx.params.get("output_field", "data"), result)
        return [out]


def xml_to_json(text: Any, *, index: int) -> dict[str, Any]:
    """``{root tag: content}`` of the XML ``text``; NodeError when it is not safe XML."""
    if not isinstance(text, str) or len(text) > MAX_XML_CHARS:
        raise NodeError(
            f"The field must be XML text of at most {MAX_XML_CHARS} characters.", item=index
        )
    try:
        root = defusedxml.ElementTree.fromstring(text, forbid_dtd=True)
    except defusedxml.DefusedXmlException as error:
        raise NodeError(f"Refused XML: {error}.", item=index) from None
    except ET.ParseError as error:
        raise NodeError(f"Malformed XML: {error}.", item=index) from None
    return {root.tag: _element(root, 0)}


def _element(element: ET.Element, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise NodeError(f"The XML is nested deeper than {MAX_DEPTH} levels.")
    content: dict[str, Any] = {f"@{k}": v for k, v in element.attrib.items()}
    for child in element:
        value = _element(child, depth + 1)
        if child.tag in content:
            existing = content[child.tag]
            content[child.tag] = (
                [*existing, value] if isinstance(existing, list) else [existing, value]
            )
        else:
            content[child.tag] = value
    text = (element.text or "").strip()
    if not content:
        return text or None
    if text:
        content["#text"] = text
    return content


def json_to_xml(value: Any, *, index: int) -> str:
    """XML text of ``{root tag: content}`` (the inverse of xml_to_json)."""
    if not isinstance(value, dict) or len(value) != 1:
        raise NodeError(
            "The field must be an object with exactly one key, the root element.", item=index
        )
    ((tag, content),) = value.items()
    try:
        root = _build(str(tag), content, 0)
        return ET.tostring(root, encoding="unicode")
    except ValueError as error:
        raise NodeError(f"Cannot write XML: {error}.", item=index) from None


def _build(tag: str, content: Any, depth: int) -> ET.Element:
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if not _NAME.fullmatch(tag):
        raise ValueError(f"{tag!r} is not an XML element name")
    element = ET.Element(tag)
    if not isinstance(content, dict):
        element.text = None if content is None else _text(content)
        return element
    for key, child in content.items():
        if key.startswith("@"):
            element.set(key[1:], _text(child))
        elif key == "#text":
            element.text = _text(child)
        else:
            for one in child if isinstance(child, list) else [child]:
                element.append(_build(key, one, depth + 1))
    return element


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
