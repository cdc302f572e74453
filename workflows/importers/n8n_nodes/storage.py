"""n8n's AWS S3 (v1, v2) and S3 (v1, any S3-compatible store) nodes as s3.object: upload,
download, delete and list of files. Bucket and folder operations and copy are reported
not mapped. n8n keeps a file in the item's binary part; LinkFlow in a field of the item
holding a file, so the binary property's name becomes that field's."""

from __future__ import annotations

from typing import Any

from .base import WARNINGS, Context, Mapped, NotMapped, Source, version_check
from .stores import success

_CREDENTIALS = {
    "awsS3": "s3 credential (n8n aws: access key id, secret access key, region)",
    "s3": "s3 credential (n8n s3: endpoint, access key id, secret access key, region)",
}


def aws_s3(source: Source, ctx: Context) -> Mapped:
    """AWS S3 v1/v2 file operations as s3.object."""
    version_check(source, (1, 2))
    return _file(source, ctx)


def s3(source: Source, ctx: Context) -> Mapped:
    """S3 v1 (an S3-compatible endpoint: the credential holds it) as s3.object."""
    version_check(source, (1,))
    return _file(source, ctx)


def _file(source: Source, ctx: Context) -> Mapped:
    resource = source.param("resource", "file")
    operation = str(source.param("operation", "download"))
    if resource != "file":
        raise NotMapped(f"{resource} operations (s3.object works on files: do these by hand)")
    bucket = ctx.value(source.param("bucketName", ""), "bucketName")
    params: dict[str, Any] = {"bucket": bucket}
    if operation == "download":
        params.update(operation="get", key=ctx.value(source.param("fileKey", ""), "fileKey"))
        field = str(source.param("binaryPropertyName", "data"))
        ctx.warn(
            f"the item is LinkFlow's (bucket, key, size, content_type, file), not the input "
            f"item with a binary '{field}': the file is in the item's 'file' field"
        )
    elif operation == "delete":
        params.update(operation="delete", key=ctx.value(source.param("fileKey", ""), "fileKey"))
    elif operation == "getAll":
        _list(source, ctx, params)
    elif operation == "upload":
        _upload(source, ctx, params)
    else:
        raise NotMapped(f"operation '{operation}'")
    node = {"id": ctx.node_id, "type": "s3.object", "params": params}
    if operation in ("upload", "delete"):
        # n8n answers {"success": true} for these, whatever S3 said
        node["id"] = f"{ctx.node_id}__s3"
        edges = [{"source": node["id"], "target": ctx.node_id}]
        mapped = Mapped([node, success(ctx)], edges=edges)
    else:
        mapped = Mapped([node], WARNINGS)
    mapped.credentials.append(_CREDENTIALS[source.type])
    return mapped


def _list(source: Source, ctx: Context, params: dict[str, Any]) -> None:
    options = source.param("options") or {}
    params.update(operation="list", prefix=ctx.value(options.get("folderKey", ""), "folderKey"))
    if not source.param("returnAll", False):
        params["max_keys"] = min(max(int(source.param("limit", 100)), 1), 1000)
    else:
        ctx.warn("'return all' lists at most 1000 keys (one page)")
    ctx.warn(
        "listed items are {bucket, key, size, etag, last_modified}, n8n's S3 names "
        "(Key, Size, ETag, LastModified, StorageClass); folder markers are not skipped"
    )


def _upload(source: Source, ctx: Context, params: dict[str, Any]) -> None:
    name = ctx.value(source.param("fileName", ""), "fileName")
    folder = (source.param("additionalFields") or {}).get("parentFolderKey")
    if folder:
        prefix = ctx.value(folder, "additionalFields.parentFolderKey")
        if not (isinstance(prefix, str) and isinstance(name, str)):
            raise NotMapped("a parent folder or file name that is not text")
        # both are LinkFlow text templates: side by side they make the key's template
        name = f"{prefix}/{name}"
    params.update(operation="put", key=name)
    extra = set(source.param("additionalFields") or {}) - {"parentFolderKey"}
    if extra or (source.param("tagsUi") or {}).get("tagsValues"):
        ctx.warn(f"not kept: {', '.join(sorted(extra)) or 'tags'} (ACL, storage class, tags)")
    if source.param("binaryData", True):
        params["file_field"] = str(source.param("binaryPropertyName", "data"))
        ctx.warn(f"the file is read from the item field '{params['file_field']}'")
    else:
        params["text"] = ctx.value(source.param("fileContent", ""), "fileContent")
