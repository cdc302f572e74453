"""s3.object against moto's S3 server (over real HTTP on 127.0.0.1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from linkflow.engine import NodeError
from linkflow.engine.net import AddressPolicy

from .conftest import node_run

moto_server = pytest.importorskip("moto.server")


class MemoryFiles:
    """A FileStore in memory, with the execution's own references only."""

    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}

    def save(self, *, name: str, content: bytes, content_type: str) -> dict[str, Any]:
        key = f"files/e1/{len(self.saved)}-{name}"
        self.saved[key] = content
        return {"$file": key, "name": name, "size": len(content), "content_type": content_type}

    def read(self, *, ref: dict[str, Any], limit: int) -> bytes:
        return self.saved[ref["$file"]]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def credential(endpoint: str) -> dict[str, Any]:
    bucket = f"lf-{uuid.uuid4().hex[:10]}"
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys).create_bucket(
        Bucket=bucket
    )
    return {
        "type": "s3",
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "bucket": bucket,
    }


def s3(
    params: dict[str, Any],
    credential: dict[str, Any],
    items: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> list[dict[str, Any]]:
    return node_run("s3.object", params, items or [{}], credential=credential, **kw)["main"]


def test_put_text_list_get_as_file_and_delete(credential: dict[str, Any]) -> None:
    files = MemoryFiles()
    put = s3(
        {
            "operation": "put",
            "key": "{{ json.k }}",
            "text": "{{ json.t }}",
            "content_type": "text/plain",
        },
        credential,
        [{"k": "docs/a.txt", "t": "hello"}, {"k": "docs/b.txt", "t": "bye"}],
    )
    listed = s3({"operation": "list", "prefix": "docs/"}, credential)
    got = s3({"operation": "get", "key": "docs/a.txt"}, credential, files=files)
    s3({"operation": "delete", "key": "docs/b.txt"}, credential)

    assert [p["size"] for p in put] == [5, 3]
    assert [entry["key"] for entry in listed] == ["docs/a.txt", "docs/b.txt"]
    assert (
        got[0]["content_type"] == "text/plain" and files.saved[got[0]["file"]["$file"]] == b"hello"
    )
    assert [entry["key"] for entry in s3({"operation": "list"}, credential)] == ["docs/a.txt"]


def test_put_from_a_file_item_round_trips_its_bytes(credential: dict[str, Any]) -> None:
    files = MemoryFiles()
    ref = files.save(name="pic.png", content=b"\x89PNG\x00\x01", content_type="image/png")

    s3(
        {"operation": "put", "key": "pic.png", "file_field": "image"},
        credential,
        [{"image": ref}],
        files=files,
    )
    got = s3({"operation": "get", "key": "pic.png"}, credential, files=files)

    assert files.saved[got[0]["file"]["$file"]] == b"\x89PNG\x00\x01"
    assert got[0]["content_type"] == "image/png"


def test_presigned_url_works_without_credentials(credential: dict[str, Any]) -> None:
    s3({"operation": "put", "key": "shared.txt", "text": "public now"}, credential)

    url = s3({"operation": "presign", "key": "shared.txt", "expires_seconds": 60}, credential)[0][
        "url"
    ]

    assert httpx.get(url).text == "public now"


def test_a_missing_bucket_fails_with_the_s3_error(credential: dict[str, Any]) -> None:
    with pytest.raises(NodeError, match="NoSuchBucket"):
        s3({"operation": "list", "bucket": "no-such-bucket"}, credential)


def test_a_loopback_endpoint_is_refused_by_the_default_policy(credential: dict[str, Any]) -> None:
    with pytest.raises(NodeError, match="loopback"):
        s3({"operation": "list"}, credential, policy=AddressPolicy())
