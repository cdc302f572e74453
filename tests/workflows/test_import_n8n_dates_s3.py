"""The Date & Time (v1, v2) and S3 (AWS S3 v1/v2, S3 v1) mappings. Date & Time is pure:
its mapped nodes run through the engine on the item n8n would get, and the expected
texts are what n8n 2.41 answers for the same node (Luxon's ISO style). S3 is checked for
the parameters it becomes (s3.object is tested against a real endpoint in tests/nodes/)."""

import pytest

from workflows.importers.n8n_nodes.base import NotMapped
from workflows.importers.n8n_nodes.dates import strftime_pattern

from .n8n_samples import chain, node, webhook
from .test_import_n8n_nodes import MANUAL, converted, entry, graph_node, outputs, run


def _date_node(parameters, version=2):
    return node("Date", "dateTime", version, parameters)


def _run_date(parameters, body, version=2):
    conversion = converted([webhook(), _date_node(parameters, version)], chain("Webhook", "Date"))
    return conversion, outputs(run(conversion, {"body": body}), "Date")


def test_add_to_date_keeps_only_the_output_field_in_luxons_iso_style():
    parameters = {
        "operation": "addToDate",
        "magnitude": "={{ $json.body.at }}",
        "timeUnit": "months",
        "duration": 1,
        "outputFieldName": "due",
        "options": {},
    }

    conversion, items = _run_date(parameters, {"at": "2024-01-31T10:00:00-05:00"})

    # n8n's item holds only the new field; the date is moved to the workflow zone (UTC)
    assert items == [{"due": "2024-02-29T15:00:00.000Z"}]
    assert entry(conversion, "Date")["status"] == "mapped"
    assert entry(conversion, "Date")["expressions"][0]["status"] == "translated"


def test_subtract_with_include_input_fields_keeps_the_item():
    parameters = {
        "operation": "subtractFromDate",
        "magnitude": "={{ $json.body.at }}",
        "timeUnit": "hours",
        "duration": "={{ $json.body.n }}",
        "options": {"includeInputFields": True},
    }

    _, items = _run_date(parameters, {"at": "2024-03-10T12:00:00Z", "n": 36})

    assert items[0]["newDate"] == "2024-03-09T00:00:00.000Z"
    assert items[0]["body"] == {"at": "2024-03-10T12:00:00Z", "n": 36}


def test_format_date_translates_luxon_tokens_and_warns_of_the_offset_rule():
    parameters = {
        "operation": "formatDate",
        "date": "={{ $json.body.at }}",
        "format": "custom",
        "customFormat": "dd.MM.yyyy 'at' HH:mm EEE",
        "options": {},
    }

    conversion, items = _run_date(parameters, {"at": "2024-03-10T01:30:00-05:00"})

    assert items == [{"formattedDate": "10.03.2024 at 06:30 Sun"}]
    assert entry(conversion, "Date")["status"] == "mapped_with_warnings"
    assert any("UTC" in w for w in entry(conversion, "Date")["warnings"])


def test_round_extract_and_time_between_dates_give_n8ns_values():
    at = "2024-01-17T10:45:30Z"

    _, down = _run_date({"operation": "roundDate", "date": at, "toNearest": "week"}, {})
    _, up = _run_date({"operation": "roundDate", "date": at, "mode": "roundUp"}, {})
    _, part = _run_date({"operation": "extractDate", "date": at, "part": "day"}, {})
    between = {
        "operation": "getTimeBetweenDates",
        "startDate": "2024-01-01T00:00:00Z",
        "endDate": at,
        "units": ["hour"],
    }
    _, hours = _run_date(between, {})

    assert down == [{"roundedDate": "2024-01-15T00:00:00.000Z"}]
    assert up == [{"roundedDate": "2024-02-01T00:00:00.000Z"}]
    assert part == [{"datePart": 17}]
    assert hours == [{"timeDifference": {"hours": 394.7583333333333}}]


def test_current_date_without_time_is_the_start_of_the_day_in_the_chosen_zone():
    parameters = {
        "operation": "getCurrentDate",
        "includeTime": False,
        "options": {"timezone": "Asia/Tokyo"},
    }

    conversion, items = _run_date(parameters, {})

    params = graph_node(conversion, "Date__date")["params"]
    assert params["operation"] == "round" and params["timezone"] == "Asia/Tokyo"
    assert items[0]["currentDate"].endswith("T00:00:00.000+09:00")


def test_v1_format_and_calculate_keep_the_item_and_use_moment_tokens():
    formatted = {"action": "format", "value": "={{ $json.body.at }}", "toFormat": "YYYY/MM/DD"}
    calculated = {
        "action": "calculate",
        "value": "={{ $json.body.at }}",
        "operation": "subtract",
        "duration": 2,
        "timeUnit": "days",
        "dataPropertyName": "earlier",
    }

    conversion, items = _run_date(formatted, {"at": "2024-03-10T12:00:00Z"}, version=1)
    _, shifted = _run_date(calculated, {"at": "2024-03-10T12:00:00Z"}, version=1)

    assert items[0]["data"] == "2024/03/10" and items[0]["body"]["at"]
    assert any("server's own time zone" in w for w in entry(conversion, "Date")["warnings"])
    assert shifted[0]["earlier"] == "2024-03-08T12:00:00.000Z"


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"operation": "formatDate", "date": "x", "format": "X"}, "token 'X'"),
        ({"operation": "formatDate", "date": "x", "options": {"fromFormat": "yyyy"}}, "From"),
        ({"operation": "getTimeBetweenDates", "units": ["day", "hour"]}, "only one unit"),
        ({"operation": "getTimeBetweenDates", "options": {"isoString": True}}, "ISO duration"),
    ],
)
def test_date_forms_without_a_counterpart_are_reported(parameters, reason):
    conversion = converted([MANUAL, _date_node(parameters)], chain("Start", "Date"))

    assert entry(conversion, "Date")["status"] == "not_mapped"
    assert reason in entry(conversion, "Date")["reason"]


def test_date_time_v3_is_reported_with_the_versions_read():
    conversion = converted([MANUAL, _date_node({}, version=3)], chain("Start", "Date"))

    assert "reads 1, 2" in entry(conversion, "Date")["reason"]


def test_strftime_pattern_escapes_percent_and_reads_quoted_text():
    assert strftime_pattern("d/M/yy '100%' h a", dialect="luxon") == "%-d/%-m/%y 100%% %-I %p"
    assert strftime_pattern("[Q]DD-MMM", dialect="moment") == "Q%d-%b"
    with pytest.raises(NotMapped, match="SSS"):
        strftime_pattern("HH:mm:ss.SSS", dialect="luxon")


def _s3(parameters, kind="awsS3", version=2):
    conversion = converted([MANUAL, node("S3", kind, version, parameters)], chain("Start", "S3"))
    return conversion, entry(conversion, "S3")


def test_s3_upload_of_a_binary_names_the_file_field_and_the_credential():
    conversion, report = _s3(
        {
            "operation": "upload",
            "bucketName": "reports",
            "fileName": "={{ $json.name }}.csv",
            "binaryPropertyName": "attachment",
            "additionalFields": {"parentFolderKey": "2024"},
        }
    )

    params = graph_node(conversion, "S3__s3")["params"]
    assert graph_node(conversion, "S3")["params"]["fields"] == {"success": "{{ true }}"}
    assert params == {
        "bucket": "reports",
        "operation": "put",
        "key": "2024/{{ js_text(js_get(json, 'name')) }}.csv",
        "file_field": "attachment",
    }
    assert report["status"] == "mapped_with_warnings"
    assert report["credentials"] == [
        "s3 credential (n8n aws: access key id, secret access key, region)"
    ]


def test_s3_text_upload_download_delete_and_list():
    _, text = _s3({"operation": "upload", "bucketName": "b", "fileName": "a.txt"}, "s3", 1)
    text_params = graph_node(
        _s3(
            {
                "operation": "upload",
                "bucketName": "b",
                "fileName": "a.txt",
                "binaryData": False,
                "fileContent": "={{ $json.body }}",
            },
            "s3",
            1,
        )[0],
        "S3__s3",
    )["params"]
    get = graph_node(_s3({"bucketName": "b", "fileKey": "k/a.txt"})[0], "S3")["params"]
    gone = graph_node(_s3({"operation": "delete", "bucketName": "b", "fileKey": "k"})[0], "S3__s3")
    listed = graph_node(
        _s3({"operation": "getAll", "bucketName": "b", "limit": 5000, "options": {}})[0], "S3"
    )

    assert "endpoint" in text["credentials"][0]
    assert text_params["text"] == "{{ js_out(js_get(json, 'body')) }}"
    assert "file_field" not in text_params
    assert get == {"bucket": "b", "operation": "get", "key": "k/a.txt"}
    assert gone["params"] == {"bucket": "b", "operation": "delete", "key": "k"}
    assert listed["params"] == {"bucket": "b", "operation": "list", "prefix": "", "max_keys": 1000}


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"resource": "bucket", "operation": "create", "name": "x"}, "bucket operations"),
        ({"resource": "folder", "operation": "create"}, "folder operations"),
        ({"operation": "copy", "sourcePath": "/a/b", "destinationPath": "/a/c"}, "'copy'"),
    ],
)
def test_s3_bucket_folder_and_copy_are_reported_not_mapped(parameters, reason):
    _, report = _s3(parameters)

    assert report["status"] == "not_mapped"
    assert reason in report["reason"]
