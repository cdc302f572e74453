"""The run view's collapsible JSON: escaped, and bounded however deep a payload nests."""

from executions.pages.run_views import FOLD_DEPTH, json_html


def test_values_are_escaped_and_objects_fold():
    html = str(json_html({"name": "<script>alert(1)</script>", "n": [1, 2]}))

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert html.count("<details") == 2


def test_a_payload_nested_far_deeper_than_the_stack_renders_the_rest_on_one_line():
    deep: object = "bottom"
    for _ in range(5000):
        deep = [deep]

    html = str(json_html({"deep": deep}))

    assert html.count("<details") == FOLD_DEPTH
    assert "json-deep" in html
