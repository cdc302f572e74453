"""s3.object: get, put, list, delete and presign objects in S3-compatible storage.

boto3 signs and parses, but never opens a connection itself: a ``before-send`` hook
sends every request, redirects and region retries included, through the host's guarded
HTTP client, so the endpoint (and any address a redirect names) passes the same address
policy as http.request, and response bodies are read with a size bound.
"""

from __future__ import annotations

import io
import json
import posixpath
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import boto3
import botocore.exceptions
import httpx
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HeadersDict
from botocore.config import Config

from linkflow.engine.errors import NodeError
from linkflow.engine.net import ResponseTooLarge, default_client, read_capped
from linkflow.engine.nodes.servers import node_timeout
from linkflow.engine.registry import Items, NodeType, or_expression

if TYPE_CHECKING:
    from linkflow.engine.context import NodeContext

OPERATIONS = ("get", "put", "list", "delete", "presign")
MAX_OBJECT_BYTES = 25 * 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


class S3Object(NodeType):
    """Works with objects in an S3 bucket."""

    type = "s3.object"
    credential_types = ("s3",)
    label = "S3 object"
    description = (
        "Gets an object as a file item, puts a file item or text, lists keys under a "
        "prefix, deletes an object, or makes a presigned URL (s3 credential)."
    )
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "operation": {"enum": list(OPERATIONS)},
            "bucket": {"description": "Default: the credential's bucket.", "type": "string"},
            "key": {"type": "string", "maxLength": 1024},
            "prefix": {"type": "string", "default": ""},
            "max_keys": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000},
            "file_field": {"description": "put: the item field with a file.", "type": "string"},
            "text": {"description": "put: text content, when there is no file."},
            "content_type": {"type": "string", "maxLength": 200},
            "method": {"enum": ["get", "put"], "default": "get"},
            "expires_seconds": {
                **or_expression({"type": "integer", "minimum": 1, "maximum": MAX_PRESIGN_SECONDS}),
                "default": 3600,
            },
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    def execute(self, ctx: NodeContext, items: Items) -> dict[str, Items]:
        """One result item per input item (list: one per object). Raises NodeError for a
        refused endpoint, an S3 error, or an object over MAX_OBJECT_BYTES."""
        fields = ctx.credential()
        self._bucket_default = str(fields.get("bucket") or "")
        self._s3 = _client(ctx, fields)
        try:
            return {
                "main": [out for i, item in enumerate(items) for out in self._one(ctx, item, i)]
            }
        except botocore.exceptions.ClientError as error:
            raise NodeError(f"S3: {error}") from None
        except (botocore.exceptions.BotoCoreError, httpx.HTTPError) as error:
            raise NodeError(f"S3: {type(error).__name__}: {error}") from None

    def _one(self, ctx: NodeContext, item: dict[str, Any], index: int) -> Items:
        operation = ctx.params["operation"]
        bucket = str(ctx.param("bucket", item_index=index, default="") or self._bucket_default)
        if not bucket:
            raise NodeError("Name a bucket here or in the credential.", param="params.bucket")
        if operation == "list":
            return self._list(ctx, bucket, index)
        key = str(ctx.param("key", item_index=index, default=""))
        if not key:
            raise NodeError("This operation needs a key.", param="params.key", item=index)
        if operation == "get":
            return [self._get(ctx, bucket, key)]
        if operation == "put":
            return [self._put(ctx, item, bucket, key, index)]
        if operation == "delete":
            self._s3.delete_object(Bucket=bucket, Key=key)
            return [{"bucket": bucket, "key": key, "deleted": True}]
        method = "put_object" if ctx.params.get("method") == "put" else "get_object"
        expires = int(ctx.param("expires_seconds", item_index=index, default=3600))
        url = self._s3.generate_presigned_url(
            method, Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
        )
        return [{"bucket": bucket, "key": key, "url": url, "expires_seconds": expires}]

    def _list(self, ctx: NodeContext, bucket: str, index: int) -> Items:
        prefix = str(ctx.param("prefix", item_index=index, default=""))
        listing = self._s3.list_objects_v2(
            Bucket=bucket, Prefix=prefix, MaxKeys=int(ctx.params.get("max_keys", 1000))
        )
        return [
            {
                "bucket": bucket,
                "key": entry["Key"],
                "size": entry["Size"],
                "etag": entry.get("ETag", "").strip('"'),
                "last_modified": entry["LastModified"].isoformat(),
            }
            for entry in listing.get("Contents", [])
        ]

    def _get(self, ctx: NodeContext, bucket: str, key: str) -> dict[str, Any]:
        if ctx.run.files is None:
            raise NodeError("Files cannot be stored here.", param="params.operation")
        answer = self._s3.get_object(Bucket=bucket, Key=key)
        content = answer["Body"].read()
        content_type = str(answer.get("ContentType") or "application/octet-stream")
        name = posixpath.basename(key) or "object"
        ref = ctx.run.files.save(name=name, content=content, content_type=content_type)
        return {
            "bucket": bucket,
            "key": key,
            "size": len(content),
            "content_type": content_type,
            "file": ref,
        }

    def _put(
        self, ctx: NodeContext, item: dict[str, Any], bucket: str, key: str, index: int
    ) -> dict[str, Any]:
        content_type = ctx.params.get("content_type")
        field = ctx.params.get("file_field")
        if field:
            ref = item.get(field)
            if ctx.run.files is None or not isinstance(ref, dict):
                raise NodeError(
                    f"Field '{field}' holds no file.", param="params.file_field", item=index
                )
            try:
                body = ctx.run.files.read(ref=ref, limit=MAX_OBJECT_BYTES)
            except (KeyError, ValueError) as error:
                raise NodeError(
                    f"Field '{field}': {error}", param="params.file_field", item=index
                ) from None
            content_type = content_type or ref.get("content_type")
        else:
            text = ctx.param("text", item_index=index, default="")
            body = (text if isinstance(text, str) else json.dumps(text)).encode()
        if len(body) > MAX_OBJECT_BYTES:
            raise NodeError(f"The object is larger than {MAX_OBJECT_BYTES} bytes.", item=index)
        answer = self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=str(content_type or "application/octet-stream"),
        )
        return {
            "bucket": bucket,
            "key": key,
            "size": len(body),
            "etag": str(answer.get("ETag", "")).strip('"'),
        }


def _client(ctx: NodeContext, fields: dict[str, Any]) -> Any:
    timeout = node_timeout(ctx)
    endpoint = fields.get("endpoint_url") or None
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=str(fields.get("region") or "us-east-1"),
        aws_access_key_id=str(fields.get("access_key_id") or ""),
        aws_secret_access_key=str(fields.get("secret_access_key") or ""),
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 1},
            s3={"addressing_style": "path"} if endpoint else {},
            # The worker's own AWS settings and proxies must not leak into a user's node.
            proxies={},
        ),
    )
    http = ctx.run.http_client or default_client()
    client.meta.events.register(
        "before-send.s3", _sender(http, deadline=time.monotonic() + timeout)
    )
    return client


def _sender(http: httpx.Client, *, deadline: float) -> Callable[..., AWSResponse]:
    def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        headers = {
            k: v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()
        }
        left = max(deadline - time.monotonic(), 0.05)
        with http.stream(
            request.method, request.url, headers=headers, content=body or b"", timeout=left
        ) as response:
            try:
                content = read_capped(response, limit=MAX_OBJECT_BYTES, deadline=deadline)
            except ResponseTooLarge:
                raise NodeError(f"The object is larger than {MAX_OBJECT_BYTES} bytes.") from None
        return AWSResponse(
            request.url, response.status_code, HeadersDict(response.headers.items()), _Raw(content)
        )

    return send


class _Raw(io.BytesIO):
    """A read body in the shape botocore expects of urllib3's response."""

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self.getvalue()
