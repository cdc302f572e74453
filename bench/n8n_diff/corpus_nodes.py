"""The corpus's workflows for the nodes mapped since the first differential run: Summarize,
Crypto, XML, HTML, Date & Time, Loop Over Items, HTTP pagination, and the ones that talk
to a server (Postgres, MySQL, Redis, RabbitMQ, MQTT, S3). Each starts with a Webhook and
answers with every item of its last node, like corpus.py's.

``SERVICES`` names, per workflow, the credentials its nodes need on both sides (n8n's
type and data, LinkFlow's type and data); run.py creates them, and the database rows
the queries read, before the first call.
"""

import itertools

from corpus_shapes import assignment, links, node, respond_all, webhook, wf

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": ""}
DIFF_DB = "linkflow_n8n_diff"
S3_BUCKET = "diff-bucket"


def _fields(name, *pairs, include=False):
    return node(
        name,
        "set",
        3.4,
        {
            "assignments": {"assignments": [assignment(k, v, kind) for k, v, kind in pairs]},
            "includeOtherFields": include,
            "options": {},
        },
    )


def _clean():
    """The item without the webhook request's fields, whose shape differs by design (see
    docs/from-n8n.md): what is compared is what the nodes computed."""
    return node(
        "Clean",
        "set",
        3.4,
        {
            "assignments": {"assignments": []},
            "includeOtherFields": True,
            "include": "except",
            "excludeFields": "headers,params,query,webhookUrl,executionMode,method,path",
            "options": {},
        },
    )


def _split_rows():
    return node("Split", "splitOut", 1, {"fieldToSplitOut": "body.rows", "options": {}})


def summarize_workflow():
    summarize = node(
        "Sum",
        "summarize",
        1.1,
        {
            "fieldsToSplitBy": "k",
            "fieldsToSummarize": {
                "values": [
                    {"field": "n", "aggregation": "sum"},
                    {"field": "n", "aggregation": "max"},
                    {"field": "n", "aggregation": "min"},
                    {"field": "n", "aggregation": "average"},
                    {"field": "n", "aggregation": "countUnique"},
                    {"field": "name", "aggregation": "concatenate", "separateBy": ", "},
                ]
            },
            "options": {},
        },
    )
    return wf(
        "DiffSummarize01",
        "diff summarize",
        [webhook("diff-summarize"), _split_rows(), summarize, respond_all()],
        links(("Webhook", "Split"), ("Split", "Sum"), ("Sum", "Respond")),
    )


def crypto_workflow():
    sha = node(
        "Sha",
        "crypto",
        1,
        {"type": "SHA256", "value": "={{ $json.body.s }}", "dataPropertyName": "sha"},
    )
    md5 = node(
        "Md5",
        "crypto",
        1,
        {
            "type": "MD5",
            "value": "={{ $json.body.s }}",
            "encoding": "base64",
            "dataPropertyName": "md5",
        },
    )
    sha3 = node(
        "Sha3",
        "crypto",
        1,
        {"type": "SHA3-512", "value": "=x{{ $json.body.s }}", "dataPropertyName": "sha3"},
    )
    return wf(
        "DiffCrypto0001",
        "diff crypto",
        [webhook("diff-crypto"), sha, md5, sha3, _clean(), respond_all()],
        links(
            ("Webhook", "Sha"),
            ("Sha", "Md5"),
            ("Md5", "Sha3"),
            ("Sha3", "Clean"),
            ("Clean", "Respond"),
        ),
    )


def xml_workflow():
    pick = _fields("Pick", ("xml", "={{ $json.body.xml }}", "string"))
    parse = node("Parse", "xml", 1, {"mode": "xmlToJson", "dataPropertyName": "xml", "options": {}})
    return wf(
        "DiffXml000001",
        "diff xml",
        [webhook("diff-xml"), pick, parse, respond_all()],
        links(("Webhook", "Pick"), ("Pick", "Parse"), ("Parse", "Respond")),
    )


def html_workflow():
    pick = _fields("Pick", ("page", "={{ $json.body.html }}", "string"))
    extract = node(
        "Extract",
        "html",
        1.2,
        {
            "operation": "extractHtmlContent",
            "dataPropertyName": "page",
            "extractionValues": {
                "values": [
                    {"key": "title", "cssSelector": "h1"},
                    {
                        "key": "links",
                        "cssSelector": "a",
                        "returnValue": "attribute",
                        "attribute": "href",
                        "returnArray": True,
                    },
                    {"key": "items", "cssSelector": "li", "returnArray": True},
                    {"key": "box", "cssSelector": "#box", "returnValue": "html"},
                ]
            },
            "options": {},
        },
    )
    return wf(
        "DiffHtml00001",
        "diff html",
        [webhook("diff-html"), pick, extract, respond_all()],
        links(("Webhook", "Pick"), ("Pick", "Extract"), ("Extract", "Respond")),
    )


def html_template_workflow():
    template = node(
        "Template",
        "html",
        1.2,
        {
            "operation": "generateHtmlTemplate",
            "html": "<p>{{ $json.body.title }}</p><i>{{ $json.body.n + 1 }}</i>",
        },
    )
    return wf(
        "DiffHtmlTpl01",
        "diff html template",
        [webhook("diff-html-template"), template, respond_all()],
        links(("Webhook", "Template"), ("Template", "Respond")),
    )


def _date(name, parameters, version=2):
    options = {"includeInputFields": True} if version == 2 else {}
    return node(name, "dateTime", version, {**parameters, "options": options})


AT = "={{ $json.body.at }}"


def dates_workflow():
    steps = [
        _date(
            "Add",
            {"operation": "addToDate", "magnitude": AT, "timeUnit": "months", "duration": 1},
        ),
        _date(
            "Subtract",
            {
                "operation": "subtractFromDate",
                "magnitude": AT,
                "timeUnit": "hours",
                "duration": 36,
                "outputFieldName": "earlier",
            },
        ),
        _date(
            "Format",
            {
                "operation": "formatDate",
                "date": AT,
                "format": "custom",
                "customFormat": "dd.MM.yyyy HH:mm EEE",
            },
        ),
        _date("Preset", {"operation": "formatDate", "date": AT, "outputFieldName": "preset"}),
        _date("Round", {"operation": "roundDate", "date": AT, "toNearest": "week"}),
        _date(
            "RoundUp",
            {"operation": "roundDate", "date": AT, "mode": "roundUp", "outputFieldName": "up"},
        ),
        _date(
            "Between",
            {
                "operation": "getTimeBetweenDates",
                "startDate": "2024-01-01T00:00:00Z",
                "endDate": AT,
                "units": ["hour"],
            },
        ),
        _date("Extract", {"operation": "extractDate", "date": AT, "part": "week"}),
        _date(
            "Day", {"operation": "extractDate", "date": AT, "part": "day", "outputFieldName": "d"}
        ),
        _date(
            "Today",
            {"operation": "getCurrentDate", "includeTime": False, "outputFieldName": "today"},
        ),
    ]
    return _chain("DiffDates0001", "dates", steps)


def _chain(wid, name, steps):
    names = ["Webhook", *[s["name"] for s in steps], "Clean", "Respond"]
    return wf(
        wid,
        f"diff {name}",
        [webhook(f"diff-{name.replace('_', '-')}"), *steps, _clean(), respond_all()],
        links(*itertools.pairwise(names)),
    )


def dates_v1_workflow():
    steps = [
        _date(
            "V1Format",
            {
                "action": "format",
                "value": AT,
                "toFormat": "YYYY-MM-DD HH:mm",
                "dataPropertyName": "v1",
            },
            version=1,
        ),
        _date(
            "V1Calc",
            {
                "action": "calculate",
                "value": AT,
                "operation": "add",
                "duration": 2,
                "timeUnit": "days",
                "dataPropertyName": "v1calc",
            },
            version=1,
        ),
    ]
    return _chain("DiffDatesV101", "dates_v1", steps)


def date_only_workflow():
    """A v2 node without 'include input fields': n8n's item holds only its result."""
    extract = node(
        "Month",
        "dateTime",
        2,
        {"operation": "extractDate", "date": AT, "part": "month", "options": {}},
    )
    return wf(
        "DiffDateOnly1",
        "diff date only",
        [webhook("diff-date-only"), extract, respond_all()],
        links(("Webhook", "Month"), ("Month", "Respond")),
    )


def loop_workflow():
    loop = node("Loop", "splitInBatches", 3, {"batchSize": 2, "options": {}})
    double = _fields("Double", ("doubled", "={{ $json.n * 2 }}", "number"), include=True)
    return wf(
        "DiffLoop00001",
        "diff loop",
        [webhook("diff-loop"), _split_rows(), loop, double, respond_all()],
        links(
            ("Webhook", "Split"),
            ("Split", "Loop"),
            ("Loop", "Respond", 0),
            ("Loop", "Double", 1),
            ("Double", "Loop"),
        ),
    )


def _paged(name, pagination, port_placeholder):
    return node(
        name,
        "httpRequest",
        4.2,
        {
            "url": f"http://127.0.0.1:{port_placeholder}/pages",
            "sendQuery": True,
            "queryParameters": {
                "parameters": [{"name": "size", "value": "={{ $json.body.size }}"}]
            },
            "options": {"pagination": {"pagination": pagination}},
        },
    )


def pagination_nodes(port_placeholder="__HTTP_PORT__"):
    by_page = _paged(
        "ByPage",
        {
            "parameters": {"parameters": [{"name": "page", "value": "={{ $pageCount + 1 }}"}]},
            "paginationCompleteWhen": "other",
            "completeExpression": "={{ $response.body.last }}",
            "limitPagesFetched": True,
            "maxRequests": 10,
        },
        port_placeholder,
    )
    by_page["parameters"]["options"]["pagination"]["pagination"]["paginationMode"] = (
        "updateAParameterInEachRequest"
    )
    by_url = _paged(
        "ByUrl",
        {
            "paginationMode": "responseContainsNextURL",
            "nextURL": "={{ $response.body.next }}",
            "paginationCompleteWhen": "other",
            "completeExpression": "={{ $response.body.last }}",
            "limitPagesFetched": True,
            "maxRequests": 10,
        },
        port_placeholder,
    )
    by_url["parameters"]["queryParameters"]["parameters"].append({"name": "page", "value": "1"})
    return by_page, by_url


def _pages(wid, name, http):
    return wf(
        wid,
        f"diff {name}",
        [webhook(f"diff-{name}"), http, respond_all()],
        links(("Webhook", http["name"]), (http["name"], "Respond")),
    )


def pages_param_workflow():
    return _pages("DiffPagesQs01", "pages-param", pagination_nodes()[0])


def pages_url_workflow():
    return _pages("DiffPagesUrl1", "pages-url", pagination_nodes()[1])


def postgres_workflow():
    query = node(
        "Query",
        "postgres",
        2.5,
        {
            "operation": "executeQuery",
            "query": "SELECT id, name, score FROM diff_rows WHERE score >= $1 ORDER BY id",
            "options": {"queryReplacement": "={{ $json.body.min }}"},
        },
        credentials={"postgres": {"id": "DiffCredPg01", "name": "diff postgres"}},
    )
    return wf(
        "DiffPostgres01",
        "diff postgres",
        [webhook("diff-postgres"), query, respond_all()],
        links(("Webhook", "Query"), ("Query", "Respond")),
    )


def mysql_workflow():
    query = node(
        "Query",
        "mySql",
        2.4,
        {
            "operation": "executeQuery",
            "query": "SELECT id, name, score FROM diff_rows WHERE score >= $1 ORDER BY id",
            # n8n's MySQL refuses a number here: its values are text
            "options": {"queryReplacement": "={{ String($json.body.min) }}"},
        },
        credentials={"mySql": {"id": "DiffCredMy01", "name": "diff mysql"}},
    )
    return wf(
        "DiffMysql0001",
        "diff mysql",
        [webhook("diff-mysql"), query, respond_all()],
        links(("Webhook", "Query"), ("Query", "Respond")),
    )


def redis_workflow():
    cred = {"redis": {"id": "DiffCredRedis1", "name": "diff redis"}}
    key = "=diff:{{ $json.body.key }}"
    put = node(
        "Put",
        "redis",
        1,
        {"operation": "set", "key": key, "value": "={{ $json.body.value }}"},
        credentials=cred,
    )
    get = node(
        "Get",
        "redis",
        1,
        {"operation": "get", "key": key, "propertyName": "stored", "options": {}},
        credentials=cred,
    )
    count = node(
        "Count",
        "redis",
        1,
        {"operation": "incr", "key": "diff:count"},
        credentials=cred,
    )
    return wf(
        "DiffRedis0001",
        "diff redis",
        [webhook("diff-redis"), put, get, count, respond_all()],
        links(("Webhook", "Put"), ("Put", "Get"), ("Get", "Count"), ("Count", "Respond")),
    )


def rabbitmq_workflow():
    send = node(
        "Send",
        "rabbitmq",
        1.1,
        {
            "operation": "sendMessage",
            "queue": "={{ $json.body.queue }}",
            "sendInputData": False,
            "message": "={{ $json.body.text }}",
            "options": {},
        },
        credentials={"rabbitmq": {"id": "DiffCredAmqp1", "name": "diff rabbitmq"}},
    )
    return wf(
        "DiffRabbit0001",
        "diff rabbitmq",
        [webhook("diff-rabbitmq"), send, respond_all()],
        links(("Webhook", "Send"), ("Send", "Respond")),
    )


def mqtt_workflow():
    send = node(
        "Send",
        "mqtt",
        1,
        {
            "topic": "={{ $json.body.topic }}",
            "sendInputData": False,
            "message": "={{ $json.body.text }}",
            "options": {},
        },
        credentials={"mqtt": {"id": "DiffCredMqtt1", "name": "diff mqtt"}},
    )
    return wf(
        "DiffMqtt00001",
        "diff mqtt",
        [webhook("diff-mqtt"), send, _clean(), respond_all()],
        links(("Webhook", "Send"), ("Send", "Clean"), ("Clean", "Respond")),
    )


def s3_workflow():
    cred = {"s3": {"id": "DiffCredS3001", "name": "diff s3"}}
    upload = node(
        "Upload",
        "s3",
        1,
        {
            "operation": "upload",
            "bucketName": S3_BUCKET,
            "fileName": "={{ $json.body.name }}",
            "binaryData": False,
            "fileContent": "={{ $json.body.text }}",
        },
        credentials=cred,
    )
    return wf(
        "DiffS3000001",
        "diff s3",
        [webhook("diff-s3"), upload, respond_all()],
        links(("Webhook", "Upload"), ("Upload", "Respond")),
    )


ROWS = [
    {"n": 3, "k": "a", "name": "Ann"},
    {"n": 1, "k": "b", "name": "Bob"},
    {"n": 5, "k": "a", "name": "Zoë"},
    {"n": 2.5, "k": "c", "name": "Cy"},
    {"n": 3, "k": "a", "name": "Di"},
]
XML = {
    "plain": "<order><id>7</id><name>Zoë</name></order>",
    "attributes": '<order id="7" state="new"><item sku="a">2</item></order>',
    "repeated": "<list><v>1</v><v>2</v><v>3</v></list>",
    "nested": "<a><b><c>x</c></b><d/></a>",
}
HTML = (
    "<html><body><h1> Hello <b>world</b> </h1><ul><li>one</li><li>two</li></ul>"
    '<a href="/a">A</a><a href="https://example.com/b">B</a>'
    '<div id="box"><i>in</i> box</div></body></html>'
)
DATES = {
    "utc": "2024-01-31T10:00:00Z",
    "negative offset": "2024-03-10T01:30:00-05:00",
    "positive offset": "2024-12-30T23:15:00+02:00",
    "no offset": "2024-06-15 08:05:09",
    "unix seconds": "1700000000",
    "unix milliseconds": "1700000000123",
}


def cases():
    return {
        "summarize": [("rows", {}, {"rows": ROWS}), ("one", {}, {"rows": ROWS[:1]})],
        "crypto": [
            (label, {}, {"s": value})
            for label, value in [("ascii", "hello"), ("unicode", "zoë 😀 ß"), ("empty", "")]
        ],
        "xml": [(label, {}, {"xml": text}) for label, text in XML.items()],
        "html": [("page", {}, {"html": HTML})],
        "html_template": [
            ("title", {}, {"title": "Zoë", "n": 1}),
            ("text n", {}, {"title": "", "n": "1"}),
        ],
        "dates": [(label, {}, {"at": value}) for label, value in DATES.items()],
        "dates_v1": [(label, {}, {"at": value}) for label, value in DATES.items()],
        "date_only": [("utc", {}, {"at": DATES["utc"]})],
        "loop": [("rows", {}, {"rows": ROWS}), ("one", {}, {"rows": ROWS[:1]})],
        "pages_param": [("size 2", {}, {"size": 2}), ("size 5", {}, {"size": 5})],
        "pages_url": [("size 2", {}, {"size": 2}), ("size 5", {}, {"size": 5})],
        "postgres": [("min 2", {}, {"min": 2}), ("min 9", {}, {"min": 9})],
        "mysql": [("min 2", {}, {"min": 2}), ("min 9", {}, {"min": 9})],
        "redis": [
            ("text", {}, {"key": "a", "value": "zoë"}),
            ("numeric text", {}, {"key": "b", "value": "7"}),
        ],
        "rabbitmq": [("text", {}, {"queue": "diff-queue", "text": "hello zoë"})],
        "mqtt": [("text", {}, {"topic": "diff/topic", "text": "hello zoë"})],
        "s3": [("text", {}, {"name": "notes/a.txt", "text": "hello zoë"})],
    }


WORKFLOWS = {
    "summarize": summarize_workflow,
    "crypto": crypto_workflow,
    "xml": xml_workflow,
    "html": html_workflow,
    "html_template": html_template_workflow,
    "dates": dates_workflow,
    "dates_v1": dates_v1_workflow,
    "date_only": date_only_workflow,
    "loop": loop_workflow,
    "pages_param": pages_param_workflow,
    "pages_url": pages_url_workflow,
    "postgres": postgres_workflow,
    "mysql": mysql_workflow,
    "redis": redis_workflow,
    "rabbitmq": rabbitmq_workflow,
    "mqtt": mqtt_workflow,
    "s3": s3_workflow,
}
