"""Payloads and node files through S3Storage, against an S3-compatible server on 127.0.0.1.

The server is moto's, started by this module in a thread; every request goes over HTTP,
exactly as to a real bucket.
"""

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from executions.running.files import StorageFileStore, file_open
from executions.running.payloads import PayloadMissing, payload_load, payload_store, payloads_delete

try:
    from moto.server import ThreadedMotoServer
except ImportError:  # moto[server] is a dev dependency
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("needs moto[server]", allow_module_level=True)

EXECUTION = "0b6f3c1e-5d7a-4c1e-9a43-3f1c2d4e5f60"
REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, **KEYS)


@pytest.fixture
def bucket(s3: Any, s3_endpoint: str, settings: Any) -> str:
    """A fresh bucket as the default storage (setting_changed resets default_storage)."""
    name = f"linkflow-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": s3_endpoint,
                "region_name": REGION,
                "access_key": KEYS["aws_access_key_id"],
                "secret_key": KEYS["aws_secret_access_key"],
                "default_acl": "private",
            },
        },
    }
    settings.LINKFLOW_PAYLOAD_INLINE_MAX_BYTES = 1024
    return name


def bucket_keys(s3: Any, bucket: str) -> list[str]:
    listing = s3.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def large_items() -> list[dict[str, Any]]:
    return [{"index": index, "text": "ü" * 40} for index in range(50)]


def test_a_large_payload_is_a_private_json_object_in_the_bucket(s3: Any, bucket: str) -> None:
    data = large_items()

    ref = payload_store(execution_id=EXECUTION, name="enrich-1-output", data=data)

    key = f"payloads/{EXECUTION}/enrich-1-output.json"
    assert ref["$ref"] == key
    assert bucket_keys(s3, bucket) == [key]
    head = s3.head_object(Bucket=bucket, Key=key)
    assert (head["ContentType"], head["ContentLength"]) == ("application/json", ref["size"])
    grants = s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert payload_load(ref) == data


def test_small_payload_never_reaches_the_bucket(s3: Any, bucket: str) -> None:
    data = [{"id": 1}]

    assert payload_store(execution_id=EXECUTION, name="start-1-output", data=data) is data
    assert bucket_keys(s3, bucket) == []


def test_a_payload_removed_from_the_bucket_raises_payload_missing(s3: Any, bucket: str) -> None:
    ref = payload_store(execution_id=EXECUTION, name="enrich-1-output", data=large_items())
    s3.delete_object(Bucket=bucket, Key=ref["$ref"])

    with pytest.raises(PayloadMissing):
        payload_load(ref)


def test_payloads_delete_empties_the_executions_prefix(s3: Any, bucket: str) -> None:
    for name in ("a-1-input", "a-1-output"):
        payload_store(execution_id=EXECUTION, name=name, data=large_items())
    other = payload_store(execution_id=uuid.uuid4().hex, name="a-1-output", data=large_items())

    assert payloads_delete(execution_id=EXECUTION) == 2

    assert bucket_keys(s3, bucket) == [other["$ref"]]


def test_a_node_file_round_trips_with_its_content_type(s3: Any, bucket: str) -> None:
    store = StorageFileStore(execution_id=EXECUTION)

    ref = store.save(name="photo.bin", content=b"\x89PNG\r\n", content_type="image/png")

    assert bucket_keys(s3, bucket) == [ref["$file"]]
    assert s3.head_object(Bucket=bucket, Key=ref["$file"])["ContentType"] == "image/png"
    with file_open(ref, execution_id=EXECUTION) as opened:
        assert opened.read() == b"\x89PNG\r\n"
