"""The package's architecture, checked: layers, no cycles, no private names across packages.

The layers are declared once, in ``pyproject.toml`` (``[tool.importlinter]``),
and checked here with import-linter; the README's *Architecture* section
draws the same diagram.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "crm_analytics"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _package_of(module: str) -> str:
    """The top-level subpackage a module belongs to (``crm_analytics.clv.model`` -> ``clv``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_layer_contract_is_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True, no_logo=True) == 0, "run `lint-imports` to see the broken layers"


def test_the_contract_lists_no_exceptions():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    for contract in config["contracts"]:
        assert not contract.get("ignore_imports"), f"{contract['name']} lists exceptions"
        assert not contract.get("unmatched_ignore_imports_alerting")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules():
    graph = grimp.build_graph("crm_analytics", exclude_type_checking_imports=True, cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    # A package's __init__ re-exporting its own modules is not a cycle of design.
    for m, targets in edges.items():
        edges[m] = {t for t in targets if not m.startswith(t + ".")}
    assert _cycles(edges) == []


def _imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for every import in a file; name None for `import x`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.lineno, node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names]
    return out


def test_no_private_names_imported_from_another_package():
    offences = []
    for module, path in _modules().items():
        for line, target, name in _imports(path):
            if not target.startswith("crm_analytics") or name is None:
                continue
            dunder = name.startswith("__") and name.endswith("__")
            private = (name.startswith("_") and not dunder) or any(p.startswith("_") and p != "__init__"
                                                  for p in target.split(".")[1:])
            if private and _package_of(target) != _package_of(module):
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {target}.{name}")
    assert offences == []


def test_no_guards_around_the_packages_own_code():
    offences = []
    for module, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if module == "crm_analytics":
            continue  # the root's lazy __getattr__ is the one place subpackages load by name
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "_optional"
            ):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} loads a module by name")
        for line, target, name in _imports(path):
            if target == "crm_analytics" and name is None:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports the root package")
    assert offences == []


@pytest.mark.parametrize("name", ["clv", "churn", "segmentation", "satisfaction", "scoring", "store"])
def test_subpackages_are_attributes_of_the_package(name):
    code = f"import crm_analytics as crm; assert crm.{name}.__name__ == 'crm_analytics.{name}'"
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_importing_the_package_does_not_import_the_heavy_parts():
    import subprocess

    code = ("import sys, crm_analytics, crm_analytics.cli; "
            "print(sorted(m for m in ('sklearn', 'statsmodels', 'plotly', 'lifetimes') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
