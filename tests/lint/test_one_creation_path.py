"""One function creates executions (issue 11): every other path builds a NewExecution and
hands it to ``executions.starting.creation.execution_admit``, which applies dedupe and the
admission policy and enqueues on commit. A second INSERT path would skip all three."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CREATION = ROOT / "executions" / "starting" / "creation.py"
PRODUCTION = ("executions", "workflows", "billing", "credentials", "linkflow")
WRITES = {"create", "bulk_create", "get_or_create", "update_or_create"}


def _creations(tree: ast.AST) -> list[int]:
    """Lines that make an Execution row: ``Execution.objects.<write>(...)`` or
    ``Execution(...)`` (an instance to be saved)."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "Execution":
            lines.append(node.lineno)
        if (
            isinstance(func, ast.Attribute)
            and func.attr in WRITES
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "objects"
            and isinstance(func.value.value, ast.Name)
            and func.value.value.id == "Execution"
        ):
            lines.append(node.lineno)
    return lines


def creations_outside_the_primitive(root: Path) -> list[str]:
    found = []
    for package in PRODUCTION:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts or path == CREATION:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            found += [f"{path.relative_to(root)}:{line}" for line in _creations(tree)]
    return found


def test_only_the_creation_primitive_inserts_executions():
    assert creations_outside_the_primitive(ROOT) == []
    # the primitive itself is seen by the same scan (so the scan is not blind)
    assert _creations(ast.parse(CREATION.read_text()))


def test_a_second_insert_path_is_caught(tmp_path):
    module = tmp_path / "executions" / "shortcut.py"
    module.parent.mkdir()
    module.write_text(
        "from executions.models import Execution\n\n"
        "def quick(workflow):\n"
        "    return Execution.objects.create(workflow=workflow)\n"
    )
    assert creations_outside_the_primitive(tmp_path) == ["executions/shortcut.py:4"]
