"""provisioning/ and pvesim/ have no import circle, and no import tucked into a function to dodge one."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package):
    return {module_name(p): p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts}


def imported(node, current, is_package, package):
    """The provisioning modules an import statement names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith(package)]
    base = node.module or ""
    if node.level:
        anchor = current.split(".") if is_package else current.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    if not base.startswith(package):
        return []
    # `from provisioning import engine` names the module provisioning.engine
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def graph(package):
    known = modules(package)
    edges, local = {name: set() for name in known}, []
    for name, path in known.items():
        tree = ast.parse(path.read_text())
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = [t for t in imported(node, name, path.name == "__init__.py", package) if t in known and t != name]
            if not targets:
                continue
            if id(node) not in top:
                local.append(f"{name}:{node.lineno} imports {targets} inside a function")
            edges[name].update(targets)
    return edges, local


def find_cycle(edges):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            # A package's __init__ and its own submodules load each other by design; skip that pair.
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.mark.parametrize("package", ["provisioning", "pvesim"])
def test_imports_have_no_circle(package):
    edges, _local = graph(package)
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_no_provisioning_import_hides_in_a_function():
    _edges, local = graph("provisioning")
    assert local == []


def test_the_checker_would_see_a_circle():
    assert find_cycle({"provisioning.a": {"provisioning.b"}, "provisioning.b": {"provisioning.a"}}) is not None


# DESIGN.md section 2: arrows point down only.
LAYERS = ["portal", "billing", "services", "provisioning", "tenants"]


def test_no_app_imports_one_above_it():
    wrong = []
    for rank, app in enumerate(LAYERS):
        above = set(LAYERS[:rank])
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or "management" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
                wrong += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] in above]
    assert wrong == []
