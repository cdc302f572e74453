"""bin/type-ignore-ceiling on a small tree made for each test: it counts the ignore
comments of the code mypy checks, and fails above the ceiling or on an ignore without a code."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "bin" / "type-ignore-ceiling"

PYPROJECT = """\
[tool.mypy]
exclude = ["/migrations/", "^tests/", "^bench/"]
"""
# Three ignores that count: two on one module, one on another.
COUNTED = {
    "app/models.py": (
        "from typing import Any\n"
        "\n"
        "x: int = 'a'  # type: ignore[assignment]\n"
        "y: Any = f()  # type: ignore[name-defined]  # f comes from a plugin\n"
    ),
    "app/views.py": "import untyped  # noqa: F401  # type: ignore[import-untyped]\n",
}
# Ignores mypy never sees, and the same words outside a comment.
NOT_COUNTED = {
    "tests/test_models.py": "x: int = 'a'  # type: ignore[assignment]\n",
    "bench/run.py": "x: int = 'a'  # type: ignore\n",
    "app/migrations/0001_initial.py": "x: int = 'a'  # type: ignore\n",
    ".venv/lib/site.py": "x: int = 'a'  # type: ignore\n",
    "app/docs.py": 'HINT = "write # type: ignore[code], never a bare # type: ignore"\n',
}


def make_tree(root: Path, *, ceiling: int, extra: dict[str, str] | None = None) -> Path:
    files = {"pyproject.toml": PYPROJECT, **COUNTED, **NOT_COUNTED, **(extra or {})}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / ".type-ignore-ceiling").write_text(f"{ceiling}\n", encoding="utf-8")
    return root


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_count_at_the_ceiling_passes_without_asking_to_lower_it(tmp_path: Path) -> None:
    result = check(make_tree(tmp_path, ceiling=3))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        "3 `# type: ignore` in production code; the ceiling is 3."
    )
    assert "lower" not in result.stdout


def test_a_count_above_the_ceiling_fails_and_lists_every_ignore(tmp_path: Path) -> None:
    result = check(make_tree(tmp_path, ceiling=2))

    assert result.returncode == 1
    listed = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert listed == ["app/models.py:3", "app/models.py:4", "app/views.py:1"]


def test_a_count_below_the_ceiling_fails_until_the_ceiling_is_lowered(tmp_path: Path) -> None:
    # Left unlowered, the ceiling would let the count climb back up to it.
    result = check(make_tree(tmp_path, ceiling=5))

    assert result.returncode == 1
    assert "write 3 into .type-ignore-ceiling" in result.stdout


def test_an_ignore_without_a_code_fails_even_below_the_ceiling(tmp_path: Path) -> None:
    bare = {"app/forms.py": "x = 1\ny: str = x  # type: ignore\nz: str = x  # type: ignore[]\n"}

    result = check(make_tree(tmp_path, ceiling=10, extra=bare))

    assert result.returncode == 1
    assert "5 `# type: ignore` in production code" in result.stdout
    listed = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert listed == ["app/forms.py:2", "app/forms.py:3"]


def test_a_missing_ceiling_file_fails(tmp_path: Path) -> None:
    root = make_tree(tmp_path, ceiling=3)
    (root / ".type-ignore-ceiling").unlink()

    result = check(root)

    assert result.returncode == 1
    assert ".type-ignore-ceiling is missing" in result.stderr
