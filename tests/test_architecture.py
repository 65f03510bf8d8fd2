"""The floors of the package: layering, an import graph without cycles, documented public
callables (issue 10)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import pkgutil

import spikewise
import spikewise.spectra

ROOT = pathlib.Path(spikewise.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = ("spikewise",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path):
    """``(module, top_level)`` for every import of a spikewise module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith("spikewise"):
                yield name, id(node) in top


GRAPH = {
    _module_name(p): {name for name, _ in _imports(p)} for p in ROOT.rglob("*.py")
}


def test_spectra_and_solvers_never_import_each_other():
    for mod, deps in GRAPH.items():
        if mod.startswith("spikewise.spectra"):
            assert not any(d.startswith("spikewise.solvers") for d in deps), mod
        if mod.startswith("spikewise.solvers"):
            assert not any(d.startswith("spikewise.spectra") for d in deps), mod


def test_no_import_cycle_between_modules():
    """Depth-first search for a cycle, package ``__init__`` modules left out (they import
    their own submodules by design)."""
    packages = {m for m in GRAPH if (ROOT / pathlib.Path(*m.split(".")[1:]) / "__init__.py")
                .exists()}
    graph = {m: {d for d in deps if d in GRAPH and d not in packages}
             for m, deps in GRAPH.items() if m not in packages}
    state: dict = {}

    def visit(m, path):
        state[m] = "open"
        for d in sorted(graph[m]):
            assert state.get(d) != "open", " -> ".join(path + [d])
            if d not in state:
                visit(d, path + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_library_modules_import_at_top_level():
    """No function-local import of a spikewise module (they hid cycles); only the plotting
    and command-line front ends (``spikewise demo``, ``sweep`` and ``reproduce``) load the
    package lazily."""
    lazy_ok = {"spikewise.plot", "spikewise._demo", "spikewise.cli", "spikewise",
               "spikewise._sweep_cli", "spikewise._reproduce"}
    offenders = [
        (_module_name(p), name)
        for p in ROOT.rglob("*.py")
        if _module_name(p) not in lazy_ok
        for name, top in _imports(p)
        if not top
    ]
    assert offenders == []


def _public_callables(package):
    """Every public function and public method of a public class named in the ``__all__`` of
    ``package`` and of its modules (each object once)."""
    seen = {}
    modules = [package.__name__] + [
        m.name for m in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")]
    for name in modules:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if isinstance(meth, classmethod | staticmethod):
                        meth = meth.__func__
                    if not meth_name.startswith("_") and inspect.isfunction(meth):
                        seen.setdefault(id(meth), (f"{name}.{attr}.{meth_name}", meth))
            elif callable(obj):
                seen.setdefault(id(obj), (f"{name}.{attr}", obj))
    return list(seen.values())


def test_spectra_public_callables_have_numpydoc_sections():
    """Issue 10: every public callable of ``spectra/`` documents its Parameters (when it takes
    any) and its Returns (Yields for a context manager)."""
    missing = []
    for qualname, func in _public_callables(spikewise.spectra):
        doc = inspect.getdoc(func) or ""
        params = [p for p in inspect.signature(func).parameters if p not in ("self", "cls")]
        lacks = [" or ".join(sections) for sections, needed in
                 ((("Parameters",), bool(params)), (("Returns", "Yields"), True))
                 if needed and not any(f"\n{s}\n---" in doc for s in sections)]
        if lacks:
            missing.append(f"{qualname}: {', '.join(lacks)}")
    assert not missing, "\n".join(missing)
