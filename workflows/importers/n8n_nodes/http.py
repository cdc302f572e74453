"""n8n's HTTP Request node (v1-v2 and v3-v4.x shapes) as http.request.

n8n emits the response body as the item (one item per element of a JSON array), or
``{"data": text}``; LinkFlow's node emits ``{"status", "headers", "body"}``. Unless n8n's
"full response" option is on, two helper nodes after it (``<id>__body`` and
``<id>__items``) turn LinkFlow's item into n8n's, so the next nodes read what they read in
n8n.
"""

from __future__ import annotations

import json
from typing import Any

from .base import Context, Mapped, NotMapped, Source, version_check
from .http_pagination import pagination

_V3 = (3, 4, 4.1, 4.2, 4.3, 4.4, 4.5)
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def http_request(source: Source, ctx: Context) -> Mapped:
    version_check(source, (1, 2, *_V3))
    params = _v3(source, ctx) if source.version >= 3 else _v1(source, ctx)
    node: dict[str, Any] = {"id": ctx.node_id, "type": "http.request", "params": params}
    mapped = Mapped([node])
    credential = _credential_need(source)
    if credential:
        mapped.credentials.append(credential)
    full = bool(source.param("options.response.response.fullResponse", False)) or bool(
        source.param("options.fullResponse", False)
    )
    if full:
        ctx.warn(
            "full response: the item is {status, headers, body} (n8n: statusCode, headers, body)"
        )
        return mapped
    # n8n's item shape: the body itself, one item per array element
    unwrap = {
        "id": f"{ctx.node_id}__body",
        "type": "data.set",
        "params": {"keep_only": True, "fields": {"__items": "{{ js_http_items(json) }}"}},
    }
    split = {"id": f"{ctx.node_id}__items", "type": "data.split", "params": {"field": "__items"}}
    mapped.nodes += [unwrap, split]
    mapped.edges += [
        {"source": node["id"], "target": unwrap["id"]},
        {"source": unwrap["id"], "target": split["id"]},
    ]
    return mapped


def _credential_need(source: Source) -> str | None:
    auth = source.param("authentication", "none")
    if auth in ("none", None):
        return None
    generic = source.param("genericAuthType")
    kinds = {
        "httpBasicAuth": "http_basic",
        "httpHeaderAuth": "http_header",
        "oAuth2Api": "oauth2_client",
        "httpBearerAuth": "http_bearer",
    }
    if auth == "genericCredentialType" and generic in kinds:
        return f"{kinds[generic]} credential (n8n {generic})"
    if auth == "predefinedCredentialType":
        kind = source.param("nodeCredentialType", "?")
        return f"n8n credential type '{kind}': use an http_header, http_bearer or oauth2 credential"
    return f"n8n authentication '{generic or auth}': no direct LinkFlow counterpart"


def _pairs(ctx: Context, entries: Any, parameter: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for index, entry in enumerate(entries or []):
        name = entry.get("name", "")
        if isinstance(name, str) and name.startswith("="):
            raise NotMapped(f"computed names in {parameter}")
        result[str(name)] = ctx.value(entry.get("value", ""), f"{parameter}[{index}].value")
    return result


def _json_param(ctx: Context, raw: Any, parameter: str) -> Any:
    if isinstance(raw, str) and raw.startswith("="):
        operand = ctx.operand(raw, parameter)
        return f"{{{{ js_out(js_typed({operand}, 'object', 3.4, false)) }}}}"
    if isinstance(raw, str):
        try:
            return ctx.value(json.loads(raw or "{}"), parameter)
        except ValueError:
            raise NotMapped(f"{parameter} is not valid JSON") from None
    return ctx.value(raw, parameter)


def _v3(source: Source, ctx: Context) -> dict[str, Any]:
    params: dict[str, Any] = {}
    method = source.param("method", "GET")
    if method not in _METHODS:
        raise NotMapped(f"method {method}")
    params["method"] = method
    params["url"] = ctx.value(source.param("url", ""), "url")
    if source.param("sendQuery"):
        if source.param("specifyQuery", "keypair") == "json":
            params["query"] = _json_param(ctx, source.param("jsonQuery", "{}"), "jsonQuery")
        else:
            params["query"] = _pairs(
                ctx, source.param("queryParameters.parameters"), "queryParameters"
            )
    if source.param("sendHeaders"):
        if source.param("specifyHeaders", "keypair") == "json":
            params["headers"] = _json_param(ctx, source.param("jsonHeaders", "{}"), "jsonHeaders")
        else:
            params["headers"] = _pairs(
                ctx, source.param("headerParameters.parameters"), "headerParameters"
            )
    if source.param("sendBody"):
        _body(source, ctx, params)
    options = source.param("options") or {}
    _options(options, ctx, params)
    if source.param("options.pagination"):
        following = pagination(options, ctx)
        if following is not None:
            params["pagination"] = following
    elif source.param("pagination"):
        ctx.warn("pagination is not kept: only the first page is fetched")
    return params


def _body(source: Source, ctx: Context, params: dict[str, Any]) -> None:
    content = source.param("contentType", "json")
    if content == "json":
        params["body_type"] = "json"
        if source.param("specifyBody", "keypair") == "json":
            params["body"] = _json_param(ctx, source.param("jsonBody", "{}"), "jsonBody")
        else:
            params["body"] = _pairs(
                ctx, source.param("bodyParameters.parameters"), "bodyParameters"
            )
    elif content == "form-urlencoded":
        params["body_type"] = "form"
        params["body"] = _pairs(ctx, source.param("bodyParameters.parameters"), "bodyParameters")
    elif content == "raw":
        params["body_type"] = "raw"
        params["content_type"] = str(source.param("rawContentType", "text/plain") or "text/plain")
        params["body"] = ctx.value(source.param("body", ""), "body")
    else:
        raise NotMapped(f"body content type '{content}' (multipart and binary bodies)")


def _options(options: dict[str, Any], ctx: Context, params: dict[str, Any]) -> None:
    timeout = options.get("timeout")
    if isinstance(timeout, int | float) and timeout > 0:
        params["timeout_seconds"] = min(timeout / 1000, 300)
    redirect = (options.get("redirect") or {}).get("redirect") or {}
    if "followRedirects" in redirect:
        params["follow_redirects"] = bool(redirect["followRedirects"])
    if isinstance(redirect.get("maxRedirects"), int):
        params["max_redirects"] = min(redirect["maxRedirects"], 20)
    response = (options.get("response") or {}).get("response") or {}
    if response.get("neverError"):
        params["fail_on_status"] = False
    fmt = response.get("responseFormat", "autodetect")
    formats = {"autodetect": "auto", "json": "json", "text": "text", "file": "file"}
    if fmt not in formats:
        raise NotMapped(f"response format '{fmt}'")
    if fmt != "autodetect":
        params["response_format"] = formats[fmt]
    for name in ("batching", "proxy", "allowUnauthorizedCerts", "lowercaseHeaders"):
        if options.get(name):
            ctx.warn(f"option '{name}' is not kept")


def _v1(source: Source, ctx: Context) -> dict[str, Any]:
    params: dict[str, Any] = {}
    method = source.param("requestMethod", "GET")
    if method not in _METHODS:
        raise NotMapped(f"method {method}")
    params["method"] = method
    params["url"] = ctx.value(source.param("url", ""), "url")
    fmt = source.param("responseFormat", "json")
    if fmt in ("json", "string"):
        params["response_format"] = "json" if fmt == "json" else "text"
    else:
        raise NotMapped(f"response format '{fmt}'")
    if source.param("jsonParameters"):
        if source.param("bodyParametersJson"):
            params["body"] = _json_param(
                ctx, source.param("bodyParametersJson"), "bodyParametersJson"
            )
        if source.param("queryParametersJson"):
            params["query"] = _json_param(
                ctx, source.param("queryParametersJson"), "queryParametersJson"
            )
        if source.param("headerParametersJson"):
            params["headers"] = _json_param(
                ctx, source.param("headerParametersJson"), "headerParametersJson"
            )
    else:
        for key, target in (
            ("queryParametersUi", "query"),
            ("headerParametersUi", "headers"),
            ("bodyParametersUi", "body"),
        ):
            entries = source.param(f"{key}.parameter")
            if entries:
                params[target] = _pairs(ctx, entries, key)
    options = source.param("options") or {}
    if options.get("timeout"):
        params["timeout_seconds"] = min(options["timeout"] / 1000, 300)
    if options.get("bodyContentType") == "form-urlencoded":
        params["body_type"] = "form"
    ctx.warn("HTTP Request v1/v2 options other than timeout and body type are not kept")
    return params
