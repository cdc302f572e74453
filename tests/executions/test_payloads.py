"""Offloading large NodeRun payloads (and node files) to the file-system storage."""

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage

from executions.running.files import FileMissing, StorageFileStore, file_open, files_delete
from executions.running.payloads import (
    PayloadMissing,
    payload_is_ref,
    payload_load,
    payload_store,
    payloads_delete,
)

LIMIT = 1024
EXECUTION = "0b6f3c1e-5d7a-4c1e-9a43-3f1c2d4e5f60"
OTHER_EXECUTION = "7d2e9b40-1c3a-4f5e-8b6d-9e8f7a6b5c4d"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    """A file-system default storage under tmp_path and a small inline limit.

    Assigning STORAGES fires Django's setting_changed, which drops the cached storages and
    default_storage (django.test.signals.storages_changed); the fixture's undo fires it again.
    """
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root},
        },
    }
    settings.LINKFLOW_PAYLOAD_INLINE_MAX_BYTES = LIMIT
    return root


def large_items(count: int = 50) -> list[dict[str, Any]]:
    return [{"index": index, "text": "x" * 40} for index in range(count)]


def compact_size(data: Any) -> int:
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def stored_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_small_data_stays_inline_and_writes_nothing(media: Path) -> None:
    data = [{"id": 1, "name": "Ada"}]

    result = payload_store(execution_id=EXECUTION, name="start-1-output", data=data)

    assert result is data
    assert not payload_is_ref(result)
    assert payload_load(result) is data
    assert stored_files(media) == []


def test_data_exactly_at_the_limit_stays_inline_one_byte_more_is_offloaded() -> None:
    at_limit = ["x" * (LIMIT - 4)]  # ["xx…x"]: two brackets and two quotes
    over_limit = ["x" * (LIMIT - 3)]

    assert payload_store(execution_id=EXECUTION, name="a", data=at_limit) is at_limit
    assert payload_is_ref(payload_store(execution_id=EXECUTION, name="b", data=over_limit))


def test_large_data_goes_to_storage_and_loads_back_equal(media: Path) -> None:
    data = large_items()

    ref = payload_store(execution_id=EXECUTION, name="enrich-1-output", data=data)

    key = f"payloads/{EXECUTION}/enrich-1-output.json"
    assert ref == {"$ref": key, "size": compact_size(data), "items": 50}
    assert payload_is_ref(ref)
    assert stored_files(media) == [key]
    assert payload_load(ref) == data


def test_a_large_object_is_offloaded_without_an_item_count() -> None:
    data = {"main": large_items(), "error": []}

    ref = payload_store(execution_id=EXECUTION, name="enrich-1-output", data=data)

    assert set(ref) == {"$ref", "size"}
    assert payload_load(ref) == data


def test_size_is_measured_in_utf8_bytes_not_characters() -> None:
    data = ["é" * 600]  # 604 characters, 1204 bytes

    ref = payload_store(execution_id=EXECUTION, name="utf8", data=data)

    assert ref["size"] == 1204
    assert payload_load(ref) == data


def test_the_payload_name_cannot_leave_the_execution_directory(media: Path) -> None:
    ref = payload_store(execution_id=EXECUTION, name="../../etc/pass wd", data=large_items())

    assert ref["$ref"] == f"payloads/{EXECUTION}/etc_pass_wd.json"
    assert stored_files(media) == [ref["$ref"]]


@pytest.mark.parametrize("execution_id", ["", "..", "a/b", "x y"])
def test_a_malformed_execution_id_is_refused_and_nothing_is_written(
    media: Path, execution_id: str
) -> None:
    with pytest.raises(ValueError, match="Not an execution id"):
        payload_store(execution_id=execution_id, name="n", data=large_items())
    with pytest.raises(ValueError, match="Not an execution id"):
        payloads_delete(execution_id=execution_id)

    assert stored_files(media) == []


def test_a_reference_to_a_deleted_object_raises_payload_missing() -> None:
    ref = payload_store(execution_id=EXECUTION, name="enrich-1-output", data=large_items())
    default_storage.delete(ref["$ref"])

    with pytest.raises(PayloadMissing) as raised:
        payload_load(ref)

    assert raised.value.key == ref["$ref"]


@pytest.mark.parametrize(
    "value",
    [
        [{"$ref": f"payloads/{EXECUTION}/a.json", "size": 10}],
        {"$ref": [{"id": 1}], "size": [{"id": 2}]},  # flow.switch ports named like a ref
        {"$ref": f"files/{EXECUTION}/a.json", "size": 10},
        {"$ref": f"payloads/{EXECUTION}/../../secret.json", "size": 10},
        {"$ref": f"payloads/{EXECUTION}/a.json", "size": 10, "extra": True},
        {"$ref": f"payloads/{EXECUTION}/a.json"},
    ],
)
def test_values_that_only_look_like_references_load_as_themselves(value: Any) -> None:
    assert not payload_is_ref(value)
    assert payload_load(value) is value


def test_payloads_delete_removes_only_that_executions_payloads(media: Path) -> None:
    gone = [
        payload_store(execution_id=EXECUTION, name=name, data=large_items())
        for name in ("a-1-input", "a-1-output")
    ]
    kept = payload_store(execution_id=OTHER_EXECUTION, name="a-1-output", data=large_items())

    deleted = payloads_delete(execution_id=EXECUTION)

    assert deleted == 2
    for ref in gone:
        with pytest.raises(PayloadMissing):
            payload_load(ref)
    assert payload_load(kept) == large_items()
    assert not (media / "payloads" / EXECUTION).exists()
    assert payloads_delete(execution_id=EXECUTION) == 0


def test_file_store_saves_under_the_execution_and_opens_back(media: Path) -> None:
    store = StorageFileStore(execution_id=EXECUTION)

    ref = store.save(name="report 2024.pdf", content=b"%PDF-1.7", content_type="application/pdf")

    assert ref["$file"].startswith(f"files/{EXECUTION}/")
    assert ref["$file"].endswith("-report_2024.pdf")
    assert {k: v for k, v in ref.items() if k != "$file"} == {
        "name": "report 2024.pdf",
        "size": 8,
        "content_type": "application/pdf",
    }
    with file_open(ref, execution_id=EXECUTION) as opened:
        assert opened.read() == b"%PDF-1.7"
    assert stored_files(media) == [ref["$file"]]


def test_a_file_of_another_execution_is_missing_not_readable() -> None:
    ref = StorageFileStore(execution_id=OTHER_EXECUTION).save(
        name="secret.txt", content=b"theirs", content_type="text/plain"
    )

    with pytest.raises(FileMissing):
        file_open(ref, execution_id=EXECUTION)


@pytest.mark.parametrize(
    "ref",
    [{"$file": "payloads/x/a.json"}, {"$file": f"files/{EXECUTION}/../x"}, {"name": "a"}, "a"],
)
def test_file_open_refuses_what_is_not_a_file_reference(ref: Any) -> None:
    with pytest.raises(ValueError, match="Not a file reference"):
        file_open(ref)


def test_files_delete_removes_the_executions_files(media: Path) -> None:
    ref = StorageFileStore(execution_id=EXECUTION).save(
        name="a.txt", content=b"a", content_type="text/plain"
    )

    assert files_delete(execution_id=EXECUTION) == 1

    with pytest.raises(FileMissing):
        file_open(ref)
    assert stored_files(media) == []
