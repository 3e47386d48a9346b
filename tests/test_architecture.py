"""The house (docs/architecture.md): who may import whom, no import cycle, and a rule map that
names, for every rule of the SPEC, where it is screened, modelled, relaxed, kept, explained and
checked -- each reference importable."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import models
from models import ASPECTS, FAMILIES, RULE_MAP

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
LEAVES = ("allocator.problems", "allocator.files", "allocator.numbers", "allocator.executor")

# package -> the packages its modules may import (besides itself and the leaves)
ALLOWED: dict[str, tuple[str, ...]] = {
    "allocator.instance": (),
    "models": ("allocator.instance",),
    "allocator.check": ("allocator.instance",),
    "allocator.plan": ("allocator.instance", "allocator.check", "models"),
    "allocator.render": ("allocator.instance",),
    "allocator.solve": ("allocator.instance", "allocator.plan", "models"),
    "allocator.studies": ("allocator.instance", "allocator.plan", "allocator.solve", "allocator.check",
                          "allocator.render", "models"),
    "allocator.cli": ("allocator",),
}


def project_modules() -> dict[str, Path]:
    found = {}
    for root in ("allocator", "models"):
        for path in (REPO / root).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports, at any depth of its code (imports inside functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                out.add(target)
    return out


def package_of(module: str) -> str:
    for package in sorted(ALLOWED, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    return module


def test_every_import_goes_the_allowed_way():
    modules = project_modules()
    wrong = []
    for name, path in modules.items():
        if name in LEAVES or name in ("allocator", "models"):
            allowed_targets: tuple[str, ...] = LEAVES
        else:
            allowed_targets = LEAVES + (package_of(name),) + ALLOWED[package_of(name)]
        for target in imports_of(name, path, modules):
            if target in ("allocator",):  # the package itself: its __version__
                continue
            if not any(target == a or target.startswith(a + ".") for a in allowed_targets):
                wrong.append(f"{name} imports {target}")
    assert wrong == [], "imports against docs/architecture.md:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle():
    modules = project_modules()
    edges = {name: imports_of(name, path, modules) for name, path in modules.items()}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted({tuple(sorted((a, b))) for a in modules for b in edges[a] if a in reach(b)})
    assert cycles == [], f"import cycles: {cycles}"


def test_every_rule_has_every_aspect_and_each_reference_exists():
    assert sorted(RULE_MAP, key=lambda r: int(r[1:])) == [f"R{i}" for i in range(1, 11)]
    for rule, aspects in RULE_MAP.items():
        assert tuple(aspects) == ASPECTS, rule
        for aspect, reference in aspects.items():
            module_name, _, qualname = reference.partition(":")
            target = importlib.import_module(module_name)
            for part in qualname.split("."):
                target = getattr(target, part, None)
                assert target is not None, f"{rule} {aspect}: {reference} does not exist"
    covered = {rule for rules in FAMILIES.values() for rule in rules}
    assert covered == {f"R{i}" for i in range(1, 11)}


def test_every_family_of_the_model_is_in_the_rule_map():
    """A family added to models/build.py (an add_* / *_rows call) without an entry in FAMILIES fails here."""
    tree = ast.parse((REPO / "models" / "build.py").read_text(encoding="utf-8"))
    origin = {alias.asname or alias.name: node.module for node in tree.body if isinstance(node, ast.ImportFrom)
              for alias in node.names}
    called = set()
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)):
            module = origin.get(call.func.id, "")
            if module.startswith("models.") and module != "models.matrix":
                called.add(module.removeprefix("models."))
    assert called == set(FAMILIES), f"families in models/build.py without a rule-map entry (or stale entries): " \
                                    f"{sorted(called ^ set(FAMILIES))}"
    assert models.__doc__ and "RULE_MAP" in models.__doc__
