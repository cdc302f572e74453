"""Redaction cost per execution: what the recorder redacts for a typical 5-node run.

The run is `trigger.webhook → http.request (with a credential) → data.set → flow.if →
data.set`, 20 items of ordinary JSON flowing through; each node's input, output and
error is redacted as the recorder does, plus the sync webhook's announcement. Compared:

- before: the previous algorithm (the raw secret values only, every value walked);
- after: credentials.redaction (every derived form, a JSON-text pre-check, a walk
  only when a form occurs), with the secret not echoed and with it echoed by the server.

Pure Python, no services. Not part of the test suite.

    .venv/bin/python bench/redaction.py --runs 2000
"""

import argparse
import base64
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from credentials.redaction import REDACTED, redact  # noqa: E402

SECRET = "sk_live_51HcR2eLkq9PzXw7bT3vQm8YdN0aJuF"
BASIC = base64.b64encode(f"api:{SECRET}".encode()).decode()


def records(*, echoed: bool) -> list[Any]:
    """Every value the recorder redacts in one run (inputs, outputs, errors, answer)."""
    users = [
        {
            "id": i,
            "name": f"Customer {i}",
            "email": f"customer{i}@example.com",
            "plan": "pro" if i % 3 else "free",
            "address": {"city": "Lyon", "zip": f"690{i:02d}", "lines": ["1 rue X", "Bât B"]},
            "tags": ["a", "b", "c"],
            "total": 12.5 * i,
        }
        for i in range(20)
    ]
    headers = {"content-type": "application/json", "date": "Tue, 01 Dec 2026 10:00:00 GMT"}
    if echoed:
        headers["x-echo"] = f"Bearer {SECRET}"
    trigger = {"method": "POST", "path": "/hook", "query": {}, "headers": headers, "body": {}}
    response = [{"status": 200, "headers": headers, "body": {"users": users}}]
    tagged = [{**u, "tier": "gold"} for u in users]
    outputs = [
        {"main": [trigger]},
        {"main": response},
        {"main": tagged},
        {"true": tagged[:10], "false": tagged[10:]},
        {"main": tagged[:10]},
    ]
    inputs = [[], [trigger], response, tagged, tagged[:10]]
    answer = {"status": "succeeded", "response": None, "last_items": tagged[:10], "error": None}
    return [v for pair in zip(inputs, outputs, strict=True) for v in (*pair, None)] + [answer]


def before(value: Any, secrets: list[str]) -> Any:
    pattern = re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return pattern.sub(REDACTED, v)
        if isinstance(v, dict):
            return {walk(k): walk(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        return v

    return walk(value)


def per_run_us(redactor: Any, values: list[Any], runs: int) -> float:
    secrets = [SECRET, BASIC]
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(runs):
            for value in values:
                redactor(value, secrets)
        samples.append((time.perf_counter() - started) / runs * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    runs = parser.parse_args().runs
    for echoed in (False, True):
        values = records(echoed=echoed)
        label = "secret echoed" if echoed else "secret not echoed"
        old = per_run_us(before, values, runs)
        new = per_run_us(redact, values, runs)
        print(f"{label}: before {old:.0f} µs/execution, after {new:.0f} µs/execution")


if __name__ == "__main__":
    main()
