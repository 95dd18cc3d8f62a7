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
