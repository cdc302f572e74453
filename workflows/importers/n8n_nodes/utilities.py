"""n8n's utility nodes with a LinkFlow counterpart since the building blocks landed: Error
Trigger, Summarize, Crypto, XML and HTML (extract content, or render a template)."""

from __future__ import annotations

from typing import Any

from workflows.importers.n8n_expressions import literal

from .base import WARNINGS, Context, Mapped, NotMapped, Source, version_check


def error_trigger(source: Source, ctx: Context) -> Mapped:
    """Error Trigger v1 as trigger.error: the workflow runs when another one fails for
    good. Its item is LinkFlow's (``execution`` id, ``workflow``, ``node``, ``error``,
    ``url``), not n8n's nested ``execution.error.message`` shape."""
    version_check(source, (1,))
    ctx.warn(
        "the error item has LinkFlow's fields (execution, workflow, node, error, url): "
        "expressions reading n8n's execution.error / workflow.name need adjusting"
    )
    mapped = Mapped([{"id": ctx.node_id, "type": "trigger.error"}], WARNINGS)
    return mapped


# n8n's aggregation -> (LinkFlow op, the prefix n8n names the output field with)
_AGGREGATIONS = {
    "count": ("count", "count_"),
    "countUnique": ("count_unique", "unique_count_"),
    "sum": ("sum", "sum_"),
    "average": ("avg", "average_"),
    "min": ("min", "min_"),
    "max": ("max", "max_"),
    "concatenate": ("concatenate", "concatenated_"),
}


def summarize(source: Source, ctx: Context) -> Mapped:
    """Summarize v1/v1.1 as data.summarize: group by the fields to split by; each
    aggregation keeps n8n's output name (``sum_amount``, ``unique_count_id``...)."""
    version_check(source, (1, 1.1))
    aggregations = []
    for index, entry in enumerate(source.param("fieldsToSummarize.values") or []):
        kind = str(entry.get("aggregation", "count"))
        field = str(entry.get("field", ""))
        if kind not in _AGGREGATIONS:
            raise NotMapped(f"aggregation '{kind}' (LinkFlow has no list of values per group)")
        if not field:
            continue  # an empty row of the n8n form: n8n skips it too
        op, prefix = _AGGREGATIONS[kind]
        spec: dict[str, Any] = {"op": op, "field": field, "as": f"{prefix}{field}"}
        if kind == "concatenate":
            separator = entry.get("separateBy", ",")
            spec["separator"] = (
                entry.get("customSeparator", "") if separator == "other" else separator
            )
        if kind in ("count", "countUnique") and not (source.param("options") or {}).get(
            "includeEmpty"
        ):
            ctx.warn(
                f"row {index + 1}: n8n leaves empty values out of counts; LinkFlow counts them"
            )
        aggregations.append(spec)
    if not aggregations:
        raise NotMapped("no field to summarize")
    raw_split = source.param("fieldsToSplitBy", "")
    if isinstance(raw_split, str) and raw_split.startswith("="):
        raise NotMapped("fields to split by computed by an expression")
    group_by = [name.strip() for name in str(raw_split or "").split(",") if name.strip()]
    if (source.param("options") or {}).get("outputFormat") == "singleItem":
        raise NotMapped("output format 'single item' (LinkFlow gives one item a group)")
    params: dict[str, Any] = {"aggregations": aggregations}
    if group_by:
        params["group_by"] = group_by
    return Mapped([{"id": ctx.node_id, "type": "data.summarize", "params": params}])


_HASHES = {
    "MD5": "md5",
    "SHA1": "sha1",
    "SHA256": "sha256",
    "SHA384": "sha384",
    "SHA512": "sha512",
    "SHA3-256": "sha3_256",
    "SHA3-512": "sha3_512",
}
_RANDOM_ENCODINGS = {"uuid": "uuid", "hex": "hex", "base64": "base64"}


def crypto(source: Source, ctx: Context) -> Mapped:
    """Crypto v1 as data.crypto: hash, HMAC (the secret becomes a key credential: n8n
    keeps it in the parameters, LinkFlow never does) and generate."""
    version_check(source, (1,))
    action = source.param("action", "hash")
    if source.param("binaryData", False):
        raise NotMapped("hashing binary data")
    params: dict[str, Any] = {"output_field": str(source.param("dataPropertyName", "data"))}
    mapped = Mapped([{"id": ctx.node_id, "type": "data.crypto", "params": params}])
    if action in ("hash", "hmac"):
        kind = str(source.param("type", "MD5"))
        if kind not in _HASHES:
            raise NotMapped(f"hash type '{kind}'")
        encoding = str(source.param("encoding", "hex"))
        if encoding not in ("hex", "base64"):
            raise NotMapped(f"encoding '{encoding}'")
        params.update(
            operation=action,
            algorithm=_HASHES[kind],
            encoding=encoding,
            value=ctx.value(source.param("value", ""), "value"),
        )
        if action == "hmac":
            mapped.credentials.append("a key credential holding the HMAC secret (n8n: 'secret')")
            ctx.warn("the HMAC secret is not imported: put it in a key credential and pick it")
            mapped.status = WARNINGS
        return mapped
    if action == "generate":
        encoding = str(source.param("encodingType", "uuid"))
        if encoding not in _RANDOM_ENCODINGS:
            raise NotMapped(f"random encoding '{encoding}'")
        params.update(operation="random", encoding=_RANDOM_ENCODINGS[encoding])
        if encoding != "uuid":
            # n8n's length is of the text made; LinkFlow's of the random bytes behind it
            length = int(source.param("stringLength", 32) or 32)
            params["length"] = max(1, length // 2 if encoding == "hex" else (length * 3) // 4)
            ctx.warn("the random text's length is rounded to whole bytes")
        return mapped
    raise NotMapped(f"action '{action}'")


def xml(source: Source, ctx: Context) -> Mapped:
    """XML v1, XML to JSON, as data.xml ``to_json`` on the same property."""
    version_check(source, (1,))
    mode = source.param("mode", "xmlToJson")
    if mode != "xmlToJson":
        raise NotMapped(f"mode '{mode}' (only XML to JSON)")
    field = str(source.param("dataPropertyName", "data"))
    ctx.warn(
        "n8n's xml2js shape (attributes under '$', text under '_') may differ from "
        "LinkFlow's for attributes and repeated elements"
    )
    # n8n's item becomes the parsed document itself, the input's fields dropped: the
    # parse goes to a field of its own and a code node lifts it into the item
    params = {"mode": "to_json", "field": field, "output_field": _XML_FIELD}
    nodes = [
        {"id": f"{ctx.node_id}__xml", "type": "data.xml", "params": params},
        {
            "id": ctx.node_id,
            "type": "code.python",
            "params": {"code": f"return [item[{_XML_FIELD!r}] for item in items]\n"},
        },
    ]
    edges = [{"source": nodes[0]["id"], "target": nodes[1]["id"]}]
    return Mapped(nodes, WARNINGS, edges=edges)


_XML_FIELD = "__xml"


_RETURN_VALUES = {"text": "text", "html": "html", "attribute": "attribute"}


def html(source: Source, ctx: Context) -> Mapped:
    """HTML v1.x: "extract HTML content" as data.html, and "generate HTML template" as a
    data.set of the rendered ``html`` field (n8n's template is text with {{ }})."""
    version_check(source, (1, 1.1, 1.2))
    operation = source.param("operation", "generateHtmlTemplate")
    if operation == "generateHtmlTemplate":
        template = source.param("html", "")
        text = template if str(template).startswith("=") else f"={template}"
        # n8n's item holds only the rendered html
        params = {"keep_only": True, "fields": {"html": ctx.value(text, "html")}}
        return Mapped([{"id": ctx.node_id, "type": "data.set", "params": params}])
    if operation != "extractHtmlContent":
        raise NotMapped(f"operation '{operation}'")
    if source.param("sourceData", "json") != "json":
        raise NotMapped("HTML from binary data")
    extract = []
    for entry in source.param("extractionValues.values") or []:
        returned = str(entry.get("returnValue", "text"))
        if returned not in _RETURN_VALUES:
            raise NotMapped(f"return value '{returned}'")
        selector = str(entry.get("cssSelector", ""))
        if selector.startswith("="):
            selector = selector[1:]
            if "{{" in selector:
                raise NotMapped("a CSS selector computed by an expression")
        spec: dict[str, Any] = {
            "key": str(entry.get("key", "")),
            "selector": selector,
            "value": _RETURN_VALUES[returned],
            "all": bool(entry.get("returnArray", False)),
        }
        if returned == "attribute":
            spec["attribute"] = str(entry.get("attribute", ""))
        extract.append(spec)
    if not extract:
        raise NotMapped("nothing to extract")
    options = source.param("options") or {}
    if options.get("cleanUpText") or options.get("trimValues") is False:
        ctx.warn("n8n's trim / clean-up options are not kept: values are trimmed")
    params = {"field": str(source.param("dataPropertyName", "data")), "extract": extract}
    # n8n's item holds only what was extracted; data.html keeps the input's fields beside
    # it, so a set after it keeps only the extracted keys.
    only = {spec["key"]: f"{{{{ json[{literal(spec['key'])}] }}}}" for spec in extract}
    nodes = [
        {"id": f"{ctx.node_id}__extract", "type": "data.html", "params": params},
        {"id": ctx.node_id, "type": "data.set", "params": {"keep_only": True, "fields": only}},
    ]
    return Mapped(nodes, edges=[{"source": nodes[0]["id"], "target": nodes[1]["id"]}])
