"""trigger.poll's pure part: a fetched body to items, and an item to its key."""

from __future__ import annotations

import hashlib
import json

import pytest

from linkflow.engine import NodeError, validate_graph
from linkflow.engine.nodes.trigger_poll import poll_items, poll_key

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><id>urn:1</id><title>One</title><link href="https://example.com/1"/></entry>
<entry><id>urn:2</id><title>Two</title></entry>
</feed>"""

# A billion-laughs document: entities expanding to gigabytes if the parser resolved them.
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>
<rss version="2.0"><channel><item><guid>x</guid><title>&h;</title></item></channel></rss>"""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_json_items_come_from_the_path_and_non_objects_are_wrapped() -> None:
    body = json.dumps({"data": {"list": [{"id": 1}, 2]}}).encode()
    assert poll_items(params={"items_path": "data.list"}, body=body) == [{"id": 1}, {"value": 2}]


def test_a_missing_items_path_or_a_body_that_is_not_json_fails_the_poll() -> None:
    with pytest.raises(NodeError, match="no 'data'"):
        poll_items(params={"items_path": "data"}, body=b'{"other": []}')
    with pytest.raises(NodeError, match="not JSON"):
        poll_items(params={}, body=b"<html>")


def test_atom_entries_become_items() -> None:
    items = poll_items(params={"source": "feed"}, body=ATOM)
    assert items == [
        {"id": "urn:1", "title": "One", "link": "https://example.com/1"},
        {"id": "urn:2", "title": "Two", "link": "urn:2"},  # feedparser: the id as link
    ]


def test_a_feed_with_entity_bombs_is_not_expanded() -> None:
    items = poll_items(params={"source": "feed"}, body=LAUGHS)
    assert all(len(json.dumps(item)) < 10_000 for item in items)


def test_the_key_is_a_field_path_or_an_expression_hashed() -> None:
    item = {"id": 7, "rev": "b", "data": {"guid": "g-1"}}
    assert poll_key(item=item, key="data.guid") == _sha("g-1")
    assert poll_key(item=item, key="id") == _sha("7")
    assert poll_key(item=item, key="{{ json.id }}-{{ json.rev }}") == _sha("7-b")


def test_an_item_without_its_key_has_none() -> None:
    assert poll_key(item={"id": None}, key="id") is None
    assert poll_key(item={}, key="missing.path") is None


def test_poll_needs_a_cron_and_a_url() -> None:
    graph = {"nodes": [{"id": "p", "type": "trigger.poll", "params": {"cron": "* * * * *"}}]}
    assert [p.node_id for p in validate_graph(graph)] == ["p"]
    graph["nodes"][0]["params"] = {"cron": "not cron", "url": "https://example.com/"}
    assert [p.node_id for p in validate_graph(graph)] == ["p"]
