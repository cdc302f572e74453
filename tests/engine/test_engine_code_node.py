"""code.python: the user's Python runs in a separate, limited, isolated process.

Every test starts real sandbox processes (no mocks). Most run once per mode: "bwrap"
(bubblewrap namespaces) and "process" (plain child process). The "OS layer" tests switch the
language fence off, to prove that the operating-system isolation holds on its own.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from linkflow.engine import Graph, NodeContext, NodeError, NullObserver, RunContext, run_graph
from linkflow.engine.code_sandbox import MODE_ENV, Limits, bwrap_status, run_python, sandbox_mode
from linkflow.engine.code_sandbox.modes import reset_probe
from linkflow.engine.nodes.code import PythonCode
from linkflow.engine.registry import get_node_type

ITEMS = [{"n": 1, "name": "ada"}, {"n": 2, "name": "grace"}]
QUICK = Limits(memory_mb=256, cpu_seconds=2, wall_seconds=10)


@pytest.fixture(params=["bwrap", "process"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each sandbox mode in turn, selected through LINKFLOW_CODE_SANDBOX. Without a usable
    bubblewrap the bwrap case is skipped, except under CI=true where it must work."""
    if request.param == "bwrap" and not bwrap_status().usable:
        reason = f"bubblewrap is not usable here: {bwrap_status().reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    monkeypatch.setenv(MODE_ENV, request.param)
    return str(request.param)


def run_node(
    code: str,
    items: list[dict[str, Any]] | None = None,
    *,
    timeout_seconds: float | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    """Execute a code.python node with a hand-built context; return its "main" items."""
    items = list(ITEMS if items is None else items)
    ctx = NodeContext(
        node_id="c",
        params={"code": code, **params},
        run=RunContext(execution={"id": "e", "mode": "manual"}, trigger_input={}),
        items=items,
        node_views={},
        timeout_seconds=timeout_seconds,
    )
    output = PythonCode().execute(ctx, items)
    assert list(output) == ["main"]
    return output["main"]


def node_error(code: str, **kwargs: Any) -> NodeError:
    """The NodeError that running ``code`` raises."""
    with pytest.raises(NodeError) as caught:
        run_node(code, **kwargs)
    return caught.value


def os_layer_error(code: str, mode: str, **limits: Any) -> str:
    """Run ``code`` with the language fence off and return the error message it fails with."""
    with pytest.raises(NodeError) as caught:
        run_python(code=code, items=[], limits=Limits(**limits), mode=mode, language_fence=False)
    return caught.value.message


def landlock_available() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(ctypes.c_long(444), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(1))
    return bool(abi >= 1)


# The node type


def test_registry_maps_code_python_to_the_node() -> None:
    node_type = get_node_type("code.python")

    assert node_type is PythonCode
    assert node_type.pure is False
    assert node_type.outputs == ("main",)
    Draft202012Validator.check_schema(node_type.params_schema)
    assert node_type.params_schema["required"] == ["code"]


def test_code_python_runs_inside_a_graph() -> None:
    graph = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": "trigger.manual", "params": {}},
                {"id": "code", "type": "code.python", "params": {"code": "return items * 2"}},
            ],
            "edges": [{"source": "start", "target": "code"}],
        }
    )
    run = RunContext(execution={"id": "ex-1", "mode": "manual"}, trigger_input={"a": 1})

    result = run_graph(graph, context=run, observer=NullObserver())

    assert result.status == "succeeded"
    assert result.last_items == [{"a": 1}, {"a": 1}]


def test_a_failing_code_node_fails_the_run_with_its_message() -> None:
    graph = Graph.from_dict(
        {
            "nodes": [
                {"id": "start", "type": "trigger.manual", "params": {}},
                {"id": "code", "type": "code.python", "params": {"code": "return 1 / 0"}},
            ],
            "edges": [{"source": "start", "target": "code"}],
        }
    )
    run = RunContext(execution={"id": "ex-1", "mode": "manual"}, trigger_input={})

    result = run_graph(graph, context=run, observer=NullObserver())

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["node_id"] == "code"
    assert result.error["message"] == "Line 1: ZeroDivisionError: division by zero"


# Happy paths


def test_code_transforms_the_items(mode: str) -> None:
    output = run_node('return [{**i, "n": i["n"] * 2} for i in items]')

    assert output == [{"n": 2, "name": "ada"}, {"n": 4, "name": "grace"}]


def test_items_pass_through_unchanged(mode: str) -> None:
    items = [
        {"text": "naïve ☃ \u2028", "nested": {"list": [1, 2.5, None, True]}, "empty": {}},
        {"big": 2**62, "neg": -0.125, "quote": 'say "hi"\n'},
    ]

    assert run_node("return items", items) == items


def test_code_can_import_the_allowed_modules(mode: str) -> None:
    code = """
import json, math, re, datetime, hashlib, collections.abc
from statistics import mean
counts = collections.Counter(i["name"][0] for i in items)
return [{
    "json": json.dumps({"pi": round(math.pi, 2)}),
    "mean": mean(i["n"] for i in items),
    "digits": re.findall(r"\\d", "a1b2"),
    "year": datetime.date(2024, 5, 1).year,
    "sha": hashlib.sha256(b"x").hexdigest()[:8],
    "counts": dict(counts),
    "mapping": isinstance({}, collections.abc.Mapping),
}]
"""
    assert run_node(code) == [
        {
            "json": '{"pi": 3.14}',
            "mean": 1.5,
            "digits": ["1", "2"],
            "year": 2024,
            "sha": "2d711642",
            "counts": {"a": 1, "g": 1},
            "mapping": True,
        }
    ]


def test_code_may_define_helpers_and_classes(mode: str) -> None:
    code = """
class Doubler:
    def __init__(self, factor):
        self.factor = factor

    def apply(self, value):
        return value * self.factor

def total(values):
    return sum(values)

d = Doubler(2)
return [{"total": total(d.apply(i["n"]) for i in items)}]
"""
    assert run_node(code) == [{"total": 6}]


def test_braces_in_code_are_python_not_expressions(mode: str) -> None:
    assert run_node('return [{"s": "{{ json.n }}", "d": {**{"k": 1}}}]') == [
        {"s": "{{ json.n }}", "d": {"k": 1}}
    ]


def test_print_output_does_not_corrupt_the_result(mode: str) -> None:
    assert run_node('print("noise" * 10000)\nreturn items') == ITEMS


# Errors in the user's code


def test_syntax_error_names_the_line(mode: str) -> None:
    error = node_error("x = 1\ny = (\nreturn items")

    assert error.message.startswith("Syntax error on line 2:")
    assert error.param == "params.code"


def test_exception_names_its_type_and_the_line_in_the_users_code(mode: str) -> None:
    error = node_error('total = 0\nfor i in items:\n    total += i["missing"]\nreturn items')

    assert error.message == "Line 3: KeyError: 'missing'"
    assert error.param == "params.code"


def test_exception_in_a_helper_points_at_the_deepest_user_line(mode: str) -> None:
    error = node_error("def boom(x):\n    return x / 0\n\nreturn [boom(1)]")

    assert error.message == "Line 2: ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ('return {"a": 1}', "The code must return a list of items (dicts), not dict."),
        ("x = 1", "not NoneType (is a `return` missing?)."),
        ("return [1, 2]", "Item 0 of the result is a int, not a dict."),
        ('return [{"s": {1, 2}}]', "The result is not JSON data: values of type set"),
        ('return [{"x": float("nan")}]', "The result is not JSON data: Out of range float"),
        ("# only a comment", "The code is empty"),
    ],
)
def test_a_result_that_is_not_a_list_of_json_objects_is_refused(
    mode: str, code: str, message: str
) -> None:
    assert message in node_error(code).message


# Limits


def test_infinite_loop_hits_the_cpu_time_limit_quickly(mode: str) -> None:
    started = time.monotonic()

    error = node_error("while True:\n    pass", cpu_seconds=1)

    assert error.message == "The code exceeded its time limit of 1 s."
    assert time.monotonic() - started < 5


def test_sleeping_code_hits_the_wall_clock_limit(mode: str) -> None:
    started = time.monotonic()

    error = node_error("import time\ntime.sleep(60)\nreturn items", timeout_seconds=1)

    assert error.message == "The code exceeded its time limit of 1 s."
    assert time.monotonic() - started < 5


def test_allocating_4_gb_runs_out_of_memory(mode: str) -> None:
    error = node_error("data = bytearray(4 * 1024 ** 3)\nreturn items")

    assert error.message == "The code ran out of memory (limit 256 MB)."


def test_growing_memory_step_by_step_runs_out_at_the_chosen_limit(mode: str) -> None:
    error = node_error('chunks = []\nwhile True:\n    chunks.append(" " * 10 ** 6)', memory_mb=128)

    assert error.message == "The code ran out of memory (limit 128 MB)."


def test_output_over_10_mb_is_refused(mode: str) -> None:
    error = node_error('return [{"s": "x" * (11 * 1024 * 1024)}]', memory_mb=512)

    assert error.message == "The code's result is larger than the 10 MB limit."


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"memory_mb": 4096}, "params.memory_mb"),
        ({"memory_mb": "lots"}, "params.memory_mb"),
        ({"cpu_seconds": 0}, "params.cpu_seconds"),
        ({"cpu_seconds": 61}, "params.cpu_seconds"),
    ],
)
def test_limits_out_of_range_are_refused_before_anything_runs(
    params: dict[str, Any], param: str
) -> None:
    assert node_error("return items", **params).param == param


# The language fence (second line of defence)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import os\nreturn [{'env': dict(os.environ)}]", "import of 'os' is not allowed"),
        ("import subprocess\nsubprocess.run(['id'])", "import of 'subprocess' is not allowed"),
        ("import sys", "import of 'sys' is not allowed"),
        ("import ctypes", "import of 'ctypes' is not allowed"),
        ("import importlib", "import of 'importlib' is not allowed"),
        ("from os import environ", "import of 'os' is not allowed"),
        ("return [{'p': open('/etc/passwd').read()}]", "name 'open' is not defined"),
        ("__import__('os').fork()", "the name '__import__' is not allowed"),
        ("return [{'b': str(__builtins__)}]", "the name '__builtins__' is not allowed"),
        ("().__class__.__base__.__subclasses__()", "attribute '__subclasses__' is not"),
        ("getattr((), '__class__')", "attribute '__class__' is not allowed"),
        ("import random\nrandom._os.fork()", "attribute '_os' is not allowed"),
        ("import uuid\nuuid.os.fork()", "AttributeError: module 'uuid' has no attribute 'os'"),
        ("from string import Formatter", "cannot import name 'Formatter'"),
        ("eval('1')", "name 'eval' is not defined"),
        (
            "match 1:\n    case object(__class__=c):\n        pass",
            "attribute '__class__' is not allowed",
        ),
        ("def g():\n    yield 1\nx = g()\nreturn [{'f': str(x.gi_frame)}]", "'gi_frame'"),
    ],
)
def test_the_language_fence_refuses_dangerous_code(mode: str, code: str, message: str) -> None:
    assert message in node_error(code).message


# The OS layer on its own (language fence switched off)


def test_os_layer_gives_the_code_an_empty_environment(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKFLOW_TEST_SECRET", "do-not-leak")

    [result] = run_python(
        code="import os\nreturn [dict(os.environ)]",
        items=[],
        limits=QUICK,
        mode=mode,
        language_fence=False,
    )

    # Python itself sets LC_CTYPE (locale coercion) and bwrap sets PWD; nothing is inherited.
    assert set(result) <= {"LC_CTYPE", "PWD"}


def test_os_layer_refuses_fork_and_subprocesses(mode: str) -> None:
    assert "Operation not permitted" in os_layer_error("import os\nos.fork()", mode)
    assert "Operation not permitted" in os_layer_error(
        "import subprocess\nsubprocess.run(['/bin/true'])", mode
    )


def test_os_layer_refuses_network_sockets(mode: str) -> None:
    code = "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)"

    assert "Operation not permitted" in os_layer_error(code, mode)


def test_os_layer_cannot_signal_the_worker(mode: str) -> None:
    code = f"import os\nos.kill({os.getpid()}, 0)"

    assert "Operation not permitted" in os_layer_error(code, mode)


def test_os_layer_cannot_write_files(mode: str) -> None:
    code = "f = open('out.txt', 'w')\nf.write('x' * 10)\nf.flush()"

    assert "Error" in os_layer_error(code, mode)


def test_os_layer_hides_the_file_system(mode: str) -> None:
    if mode == "process" and not landlock_available():
        pytest.skip("this kernel has no Landlock: in process mode only the fence hides files")
    secret_files = ["/etc/passwd", str(Path(__file__).resolve()), f"/proc/{os.getpid()}/environ"]

    for path in secret_files:
        message = os_layer_error(f"open({path!r}).read()", mode)
        assert "FileNotFoundError" in message or "PermissionError" in message, path


def test_os_layer_runs_bwrap_code_as_nobody_in_an_empty_tmp() -> None:
    if not bwrap_status().usable:
        pytest.skip("bubblewrap is not usable here")

    [result] = run_python(
        code="import os\nreturn [{'uid': os.getuid(), 'cwd': os.getcwd(), 'tmp': os.listdir()}]",
        items=[],
        limits=QUICK,
        mode="bwrap",
        language_fence=False,
    )

    assert result == {"uid": 65534, "cwd": "/tmp", "tmp": []}


# The worker keeps serving

CRASH = "import ctypes\nctypes.string_at(0)"  # a segmentation fault in the interpreter


def test_a_crashed_process_is_reported_with_its_signal(mode: str) -> None:
    with pytest.raises(NodeError) as caught:
        run_python(code=CRASH, items=[], limits=QUICK, mode=mode, language_fence=False)

    assert caught.value.message == "The code's process was killed by signal 11 (SIGSEGV)."


def test_the_worker_keeps_serving_after_every_kind_of_failure(mode: str) -> None:
    failures = [
        ("while True:\n    pass", {"cpu_seconds": 1}),
        ("data = bytearray(4 * 1024 ** 3)", {}),
        ('return [{"s": "x" * (11 * 1024 * 1024)}]', {"memory_mb": 512}),
        ("import os", {}),
        ("return (", {}),
        ("raise SystemExit(3)", {}),
    ]
    for code, params in failures:
        with pytest.raises(NodeError):
            run_node(code, **params)
    with pytest.raises(NodeError, match="killed by signal"):
        run_python(code=CRASH, items=[], limits=QUICK, mode=mode, language_fence=False)

    assert run_node('return [{"ok": len(items)}]') == [{"ok": 2}]
    with pytest.raises(ChildProcessError):  # every sandbox process was reaped
        os.waitpid(-1, os.WNOHANG)


# Choosing the mode


@pytest.fixture
def no_bwrap_on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PATH without bwrap, and a fresh probe before and after."""
    monkeypatch.setenv("PATH", "/nonexistent")
    reset_probe()
    yield
    monkeypatch.undo()
    reset_probe()


def test_unknown_sandbox_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODE_ENV, "docker")

    error = node_error("return items")

    assert error.message == (
        "LINKFLOW_CODE_SANDBOX must be one of auto, bwrap, process, not 'docker'."
    )


def test_auto_prefers_bwrap_when_it_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODE_ENV, raising=False)

    assert sandbox_mode() == ("bwrap" if bwrap_status().usable else "process")


def test_auto_falls_back_to_process_mode_with_one_warning(
    no_bwrap_on_path: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(MODE_ENV, "auto")

    with caplog.at_level(logging.WARNING, logger="linkflow.engine.code_sandbox.modes"):
        modes_chosen = [sandbox_mode(), sandbox_mode()]
        output = run_node("return items")

    assert modes_chosen == ["process", "process"]
    assert output == ITEMS
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert "bubblewrap is not usable (the bwrap program is not on PATH)" in warnings[0]


def test_bwrap_mode_fails_closed_when_bwrap_is_missing(
    no_bwrap_on_path: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODE_ENV, "bwrap")

    error = node_error("return items")

    assert error.message == (
        "LINKFLOW_CODE_SANDBOX=bwrap, but bubblewrap does not work on this worker: "
        "the bwrap program is not on PATH"
    )


# Escapes of the language fence found by attack (issue #10, section 6): each replayed


SINK = """
got = {}
class Sink:
    def __setattr__(self, name, value):
        got[name] = value
"""


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param(
            SINK + "import functools, random\n"
            "functools.update_wrapper(Sink(), random.Random.seed, assigned=('__globals__',))\n"
            "return [{'os': repr(got['__globals__']['_os'])}]",
            "attribute '__globals__' is not allowed",
            id="update_wrapper-assigned",
        ),
        pytest.param(
            SINK + "import functools, random\n"
            "functools.wraps(random.Random.seed, assigned=('__globals__',))(Sink())\n"
            "return [{'os': repr(got['__globals__']['_os'])}]",
            "attribute '__globals__' is not allowed",
            id="wraps-assigned",
        ),
        pytest.param(
            "import random\nreturn [{'g': '{0.__globals__}'.format(random.Random.seed)}]",
            "attribute '__globals__' is not allowed",
            id="str.format-field",
        ),
        pytest.param(
            "import random\nf = random.Random.seed\n"
            "return [{'g': '{f.__globals__[_os]}'.format_map({'f': f})}]",
            "attribute '__globals__' is not allowed",
            id="format_map-field",
        ),
        pytest.param(
            "import random\nreturn [{'g': str.format('{0.__globals__}', random.Random.seed)}]",
            "attribute '__globals__' is not allowed",
            id="unbound-str.format",
        ),
        pytest.param(
            "import random\nreturn [{'g': '{0:{1.__class__}}'.format('a', random)}]",
            "attribute '__class__' is not allowed",
            id="nested-spec-field",
        ),
        pytest.param(
            "import random\nclass S(str):\n    def go(self, f):\n        return super().format(f)\n"
            "return [{'g': S('{0.__globals__}').go(random.Random.seed)}]",
            "attribute '__globals__' is not allowed",
            id="super-format",
        ),
        pytest.param(
            "import random\nfmt = getattr('{0.__globals__}', 'format')\n"
            "return [{'g': fmt(random.Random.seed)}]",
            "attribute '__globals__' is not allowed",
            id="getattr-format",
        ),
        pytest.param(
            "import random\nclass S(str):\n    def startswith(self, *args):\n        return False\n"
            "g = getattr(random.Random.seed, S('__globals__'))\nreturn [{'os': repr(g['_os'])}]",
            "attribute names must be plain strings",
            id="str-subclass-name",
        ),
        pytest.param(
            "import functools\nd = functools.singledispatch(lambda x: x)\n"
            "def f(x: '().__class__.__base__.__subclasses__()'):\n    pass\nd.register(f)",
            "module 'functools' has no attribute 'singledispatch'",
            id="singledispatch-annotation-eval",
        ),
    ],
)
def test_each_known_escape_of_the_language_fence_fails(mode: str, code: str, message: str) -> None:
    error = node_error(code)

    assert message in error.message
    assert "module 'os'" not in error.message and "__name__" not in error.message


def test_the_fence_keeps_format_and_wraps_working(mode: str) -> None:
    code = """
import functools
def deco(f):
    @functools.wraps(f)
    def inner(*args):
        return f(*args)
    return inner
@deco
def double(x):
    return 2 * x
class P:
    name = "ada"
    def format(self, text):
        return "P" + text
return [{
    "a": "{} {}".format(1, 2), "b": "{p.name}".format(p=P()), "c": "{x}".format_map({"x": 3}),
    "d": double(4), "e": P().format("!"), "f": str.format("{0:>3}", "x"), "g": "{0[0]}".format([7]),
}]
"""
    assert run_node(code, items=[]) == [
        {"a": "1 2", "b": "ada", "c": "3", "d": 8, "e": "P!", "f": "  x", "g": "7"}
    ]


# Production fails closed without bubblewrap


def _code_node_under_settings(env: dict[str, str], tmp_path: Path) -> str:
    """Load LinkFlow's settings with ``env`` (PATH without bwrap) in a fresh interpreter,
    run a code node there and return what happened ("ok" or the node's error)."""
    import subprocess
    import sys

    script = (
        "import django\n"
        "django.setup()\n"
        "from linkflow.engine.code_sandbox import Limits, run_python\n"
        "from linkflow.engine.errors import NodeError\n"
        "try:\n"
        "    run_python(code='return items', items=[], limits=Limits(wall_seconds=20))\n"
        "    print('ok')\n"
        "except NodeError as error:\n"
        "    print(error.message)\n"
    )
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", MODE_ENV}
    }
    environ = {
        **base,
        "PATH": str(tmp_path),  # no bwrap here, whatever the machine has
        "DJANGO_SETTINGS_MODULE": "linkflow.settings",
        "LINKFLOW_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "production-test",
        "LINKFLOW_CREDENTIAL_KEYS": "bGlua2Zsb3ctdGVzdHMtb25seS1ub3QtYS1zZWNyZXQ=",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


PRODUCTION = {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}


def test_production_refuses_to_run_code_without_bubblewrap(tmp_path: Path) -> None:
    outcome = _code_node_under_settings(PRODUCTION, tmp_path)

    assert outcome == (
        "LINKFLOW_CODE_SANDBOX=bwrap, but bubblewrap does not work on this worker: "
        "the bwrap program is not on PATH"
    )


def test_production_runs_process_mode_only_when_chosen_explicitly(tmp_path: Path) -> None:
    assert _code_node_under_settings({**PRODUCTION, MODE_ENV: "process"}, tmp_path) == "ok"


def test_the_embedded_mode_still_falls_back_to_process_mode(tmp_path: Path) -> None:
    assert _code_node_under_settings({}, tmp_path) == "ok"
