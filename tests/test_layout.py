"""The package's shape, checked on its source: small modules and functions, imports flowing one way,
choices spelled only in `choices.py` (see docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pconv_cli"
MAX_MODULE_LINES = 400
MAX_BODY_LINES = 50
# Lower layers never import higher ones; the top-level modules not named here are the foundation (layer 0).
LAYER = {
    "imaging": 1,
    "model": 2,
    "runtime": 3,
    "training": 4,
    "evaluation": 4,
    "serve": 4,
    "commands": 5,
    "cli": 6,
    "__main__": 6,
}


def _modules() -> dict[str, Path]:
    """Dotted name → file, for every module of the package (a package's __init__ under its package's name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("pconv_cli", *path.relative_to(PACKAGE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))


def _type_checking_blocks(tree: ast.Module) -> set[int]:
    """ids of import nodes that only type checkers run (``if TYPE_CHECKING:``)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return skipped


def imports_of(name: str) -> set[str]:
    """The package's modules that ``name`` imports at run time (inside functions too)."""
    tree = _tree(name)
    skipped = _type_checking_blocks(tree)
    targets = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    # `from pconv_cli.x import y` names module x.y if that exists, else a name inside module x.
    resolved = {t for t in targets if t in MODULES}
    return {t for t in resolved if not any(other.startswith(t + ".") for other in resolved)} - {name}


def _layer(name: str) -> int:
    parts = name.split(".")
    return LAYER.get(parts[1], 0) if len(parts) > 1 else 0


def _owner(name: str) -> str:
    """The subpackage (or top-level module) a module belongs to."""
    return ".".join(name.split(".")[:2])


def long_functions(tree: ast.Module) -> dict[str, int]:
    """Functions whose body, from the first statement after the docstring, is over the limit
    (so a Typer signature's parameter list does not count)."""
    long = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) is not None and len(node.body) > 1 else node.body
            lines = node.end_lineno - body[0].lineno + 1
            if lines > MAX_BODY_LINES:
                long[node.name] = lines
    return long


def find_loop(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a path back to its start, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (loop := visit(nxt, [*path, nxt])):
                return loop
        state[node] = 2
        return None

    return next((loop for node in sorted(graph) if node not in state and (loop := visit(node, [node]))), None)


def choice_literals(tree: ast.Module, values: set[str]) -> list[int]:
    """Lines where a string constant equal to a choice's value appears, docstrings aside."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and ast.get_docstring(node) is not None
    }
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in values and id(node) not in docstrings
    ]


def _choice_values() -> set[str]:
    values = set()
    for node in _tree("pconv_cli.choices").body:
        if isinstance(node, ast.ClassDef):
            values |= {
                s.value.value for s in node.body if isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant)
            }
    return values


def test_no_module_is_over_the_line_limit():
    lines = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert not {name: n for name, n in lines.items() if n > MAX_MODULE_LINES}


def test_no_function_body_is_over_the_line_limit():
    assert not {name: long for name in MODULES if (long := long_functions(_tree(name)))}


def test_imports_flow_down_the_layers():
    upward = [
        f"{name} → {target}"
        for name in MODULES
        if name != "pconv_cli"  # the package's lazy `Inpainter` attribute
        for target in imports_of(name)
        if _layer(target) > _layer(name)
    ]
    assert not upward


@pytest.mark.parametrize("level", ["module", "subpackage"])
def test_no_import_loop(level):
    key = (lambda n: n) if level == "module" else _owner
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        if name != "pconv_cli":
            graph.setdefault(key(name), set()).update(key(t) for t in imports_of(name) if key(t) != key(name))
    assert find_loop(graph) is None


def test_choices_are_spelled_only_in_choices_py():
    values = _choice_values()
    found = {
        name: lines
        for name in MODULES
        if name != "pconv_cli.choices"
        if (lines := choice_literals(_tree(name), values))
    }
    assert not found


def test_the_checks_catch_what_they_look_for():
    code = ast.parse(
        'def f(strategy):\n    """Whether "tile" is asked for."""\n    return strategy == "tile"\n'
        + "def g():\n"
        + "    x = 1\n" * (MAX_BODY_LINES + 1)
    )
    assert choice_literals(code, _choice_values()) == [3]  # the comparison, not the docstring
    assert long_functions(code) == {"g": MAX_BODY_LINES + 1}
    assert find_loop({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_loop({"a": {"b"}, "b": {"c"}}) is None
    assert "pconv_cli.runtime.runner" in imports_of("pconv_cli.runtime.inpainter")
