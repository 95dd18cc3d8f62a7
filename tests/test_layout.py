"""The layout's dependency rule (../shared/DESIGN.md, "Layout"): accounts never imports tracking.

accounts holds users, patients and access; tracking builds on it. An import the other way makes the two
one tangle that no newcomer can read apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_accounts_imports_nothing_from_tracking() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.split(".")[0] == "tracking")
        for path in (ROOT / "accounts").rglob("*.py")
    }

    assert {path: names for path, names in offenders.items() if names} == {}


def model_manager_uses(path: Path) -> list[int]:
    """Lines where `<Model>.objects` is read: a query written in place rather than asked of a selector."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted(node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "objects")


def test_views_and_serializers_ask_selectors_instead_of_querying() -> None:
    # DESIGN.md, Layers: apis are thin, serializers hold no business rules; reads live in selectors.py.
    doors = [
        *(ROOT / "tracking" / "apis").rglob("*.py"),
        *(ROOT / "tracking" / "serializers").rglob("*.py"),
        *(ROOT / "tracking").glob("*/apis.py"),
        ROOT / "accounts" / "apis.py",
        ROOT / "accounts" / "auth_apis.py",
        ROOT / "accounts" / "serializers.py",
        ROOT / "tacro_topical" / "serializers.py",
    ]
    assert len(doors) > 10  # the globs still find the packages

    queries = {str(path.relative_to(ROOT)): model_manager_uses(path) for path in doors}

    assert {path: lines for path, lines in queries.items() if lines} == {}
