#!/usr/bin/env python3
"""Print the package's import cycles and its longest modules; exit 1 if the layout is broken.

Every import counts: module-level, inside a function, under ``TYPE_CHECKING``. A
function-local import that only hides a cycle is still the cycle. Migrations are left out of
the length limit (Django writes them), not out of the graph.

    python .ci/import_graph.py [--package django_webhooks] [--max-lines 400] [--top 10]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(package: str, root: Path) -> dict[str, Path]:
    return {
        module_name(path, root): path
        for path in sorted((root / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's own modules that ``name`` imports, anywhere in its code."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, name, is_package)
            # ``from pkg import mod`` imports pkg.mod when that is a module, else a name of pkg.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]  # an attribute of a module, or outside
            if target and target != name:
                found.add(target)
    return found


def _absolute(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = name.split(".")
    if not is_package:
        parts.pop()
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def report(package: str, max_lines: int, top: int, root: Path = ROOT) -> tuple[str, bool]:
    modules = modules_of(package, root)
    graph = {name: imports_of(name, path, set(modules)) for name, path in modules.items()}
    lines = {
        name: len(path.read_text().splitlines())
        for name, path in modules.items()
        if ".migrations." not in name
    }
    too_long = {name: count for name, count in lines.items() if count > max_lines}
    found = cycles(graph)
    out = [f"{len(modules)} modules, {sum(map(len, graph.values()))} imports between them."]
    out.append(f"Import cycles: {len(found)}")
    out += [f"  {' -> '.join(component)}" for component in found]
    out.append(f"Longest modules (limit {max_lines} lines, migrations aside):")
    for name, count in sorted(lines.items(), key=lambda item: -item[1])[:top]:
        out.append(f"  {count:5d}  {name}{'  TOO LONG' if name in too_long else ''}")
    return "\n".join(out), not found and not too_long


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="django_webhooks")
    parser.add_argument("--max-lines", type=int, default=400)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    text, ok = report(args.package, args.max_lines, args.top)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
