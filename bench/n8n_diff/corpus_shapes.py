"""The builders of n8n export JSON the corpus is written with (nodes, links, workflows,
conditions), shared by corpus.py and corpus_nodes.py."""


def node(name, kind, version, parameters, position=(0, 0), **extra):
    return {
        "id": f"{name}-id",
        "name": name,
        "type": f"n8n-nodes-base.{kind}",
        "typeVersion": version,
        "position": list(position),
        "parameters": parameters,
        **extra,
    }


def webhook(path):
    return node(
        "Webhook",
        "webhook",
        2,
        {"httpMethod": "POST", "path": path, "responseMode": "responseNode", "options": {}},
        webhookId=f"wh-{path}",
    )


def respond_all(name="Respond"):
    return node(name, "respondToWebhook", 1.1, {"respondWith": "allIncomingItems", "options": {}})


def links(*pairs):
    connections = {}
    for source, target, *rest in pairs:
        output, index = [*rest, 0, 0][:2]
        outputs = connections.setdefault(source, {"main": []})["main"]
        while len(outputs) <= output:
            outputs.append([])
        outputs[output].append({"node": target, "type": "main", "index": index})
    return connections


def wf(wid, name, nodes, connections):
    return {
        "id": wid,
        "name": name,
        "active": False,
        "nodes": nodes,
        "connections": connections,
        "settings": {"executionOrder": "v1"},
        "pinData": {},
    }


def condition(kind, operation, left, right="", right_type=None):
    operator = {"type": kind, "operation": operation}
    if right_type:
        operator["rightType"] = right_type  # as n8n's editor writes it
    return {"leftValue": left, "rightValue": right, "operator": operator}


def conditions(*entries, combinator="and"):
    return {
        "options": {
            "caseSensitive": True,
            "leftValue": "",
            "typeValidation": "strict",
            "version": 2,
        },
        "conditions": list(entries),
        "combinator": combinator,
    }


def assignment(name, value, kind="string"):
    return {"id": f"a-{name}", "name": name, "value": value, "type": kind}
