"""Dependencies point one way (DESIGN.md): observers, models and memory are leaves, and the TUI reaches
the daemon only through its client. Read from the source, so a new import that crosses a layer fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Per folder: the tacitd modules it may import, besides its own (a name allows the module and its submodules).
ALLOWED = {
    "observers": ("tacitd.memory.types",),
    "models": (),
    "memory": (),
    "tui": ("tacitd.daemon.api.client", "tacitd.memory.types"),
}


def tacitd_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for each absolute `tacitd.*` import in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("tacitd.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("tacitd."):
            found.append((node.lineno, node.module or ""))
    return found


@pytest.mark.parametrize("folder", ALLOWED)
def test_a_layer_imports_only_what_design_allows(folder):
    own = f"tacitd.{folder}"
    allowed = (own, *ALLOWED[folder])
    crossing = [f"{path.relative_to(ROOT)}:{line}: {module}"
                for path in sorted((ROOT / folder).rglob("*.py"))
                for line, module in tacitd_imports(path)
                if not any(module == a or module.startswith(a + ".") for a in allowed)]
    assert crossing == []
