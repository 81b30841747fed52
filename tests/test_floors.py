"""The floors of shared/DESIGN.md ("Types and layers"): data flows down, nothing imports up.

Every module of the five packages is parsed with :mod:`ast`; *every* import counts, also those
inside functions and under ``if TYPE_CHECKING:``. A module may import its own floor and the
floors below it, never one above; and the module graph (function-level imports included) has
no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

FLOORS = ("indexes", "retrievers", "readers", "eval", "rag")  # bottom to top
ROOT = Path(__file__).resolve().parents[1]


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """``{dotted module name: file}`` for every .py under the given top-level packages."""
    out = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = f
    return out


def imports(name: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in the file, resolved to a known module where one is
    meant (``from eval import ambigdocs`` is ``eval.ambigdocs``; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((node.lineno, sub if sub in known else base))
    return out


def graph(root: Path, packages: tuple[str, ...]) -> dict[str, list[tuple[int, str]]]:
    """Each module's imports of modules inside ``packages`` (anything else is a library)."""
    mods = modules(root, packages)
    known = set(mods)
    g = {}
    for name, path in mods.items():
        g[name] = [(line, m) for line, m in imports(name, path, known) if m.split(".")[0] in packages]
    return g


def upward_imports(root: Path, floors: tuple[str, ...] = FLOORS) -> list[str]:
    """One line per import of a higher floor: ``file:line: a.b imports c.d (floor c is above a)``."""
    rank = {f: i for i, f in enumerate(floors)}
    files = modules(root, floors)
    out = []
    for name, deps in graph(root, floors).items():
        here = name.split(".")[0]
        for line, m in sorted(set(deps)):
            there = m.split(".")[0]
            if rank[there] > rank[here]:
                path = files[name].relative_to(root).as_posix()
                out.append(f"{path}:{line}: {name} imports {m} (floor {there}/ is above {here}/)")
    return sorted(out)


def cycles(root: Path, packages: tuple[str, ...] = FLOORS) -> list[list[str]]:
    """Import cycles, each as a closed path ``[a, b, ..., a]`` (one per strongly connected set)."""
    deps = graph(root, packages)
    g = {n: sorted({m for _, m in d if m in deps}) for n, d in deps.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    sccs: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in g[v]:
                sccs.append(comp)

    for v in sorted(g):
        if v not in index:
            visit(v)
    return [_path_in(sorted(c), g) for c in sorted(sccs, key=sorted)]


def _path_in(comp: list[str], g: dict[str, list[str]]) -> list[str]:
    """A closed path through ``comp`` from its first module back to it (breadth first)."""
    start, members = comp[0], set(comp)
    prev: dict[str, str] = {}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in g[v]:
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return [start, *reversed(path[:-1]), start] if v != start else [start, start]
            if w in members and w not in prev:
                prev[w] = v
                todo.append(w)
    raise AssertionError(f"no cycle through {start}")


def test_no_module_imports_a_higher_floor():
    bad = upward_imports(ROOT)
    assert not bad, "imports of a higher floor (see shared/DESIGN.md):\n" + "\n".join(bad)


def test_no_import_cycles():
    found = cycles(ROOT)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_checks_see_every_package_and_function_level_imports():
    g = graph(ROOT, FLOORS)
    assert {n.split(".")[0] for n in g} == set(FLOORS)
    # a function-level import in the real tree is in the graph (rag.cli builds the parser lazily)
    assert "rag.pipeline" in {m for _, m in g["rag.cli"]}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def test_the_checks_fail_on_an_upward_import_and_a_cycle(tmp_path):
    _write(tmp_path, {
        "low/__init__.py": "",
        "low/a.py": "def f():\n    from high.b import g\n    return g\n",
        "low/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from low import d\n",
        "low/d.py": "import numpy\nfrom . import c\n",
        "high/__init__.py": "",
        "high/b.py": "from low.a import f\nimport low\n",
    })
    floors = ("low", "high")
    assert upward_imports(tmp_path, floors) == [
        "low/a.py:2: low.a imports high.b (floor high/ is above low/)"]
    assert cycles(tmp_path, floors) == [["high.b", "low.a", "high.b"], ["low.c", "low.d", "low.c"]]
    _write(tmp_path, {"low/a.py": "def f():\n    return 1\n"})
    assert upward_imports(tmp_path, floors) == []
    assert cycles(tmp_path, floors) == [["low.c", "low.d", "low.c"]]
