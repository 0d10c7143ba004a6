"""The package's layers: no import cycle among `vqkeras/` files,
counting imports inside functions; the Beam engine never imports the CLI;
data never imports evaluation; no module takes another module's private
names. Read from the source with `ast`, so nothing is imported and the test
runs the same on every backend."""
import ast
import os

import pytest

from conftest import ROOT

PACKAGE = "vqkeras"


def module_files(root, package=PACKAGE):
    """{module name: file path} for every `.py` file under `root/package`."""
    found = {}
    for folder, dirs, names in os.walk(os.path.join(root, package)):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(folder, name), root)[:-3].split(os.sep)
            if rel[-1] == "__init__":
                rel = rel[:-1]
            found[".".join(rel)] = os.path.join(folder, name)
    return found


def _known(name, modules):
    """The longest prefix of dotted `name` that is a module, or None."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return None


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _dotted(node):
    """`a.b.c` of an Attribute/Name chain, or None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id] + parts[::-1])


def read_imports(module, path, modules):
    """(edges, private uses) of one module: edges are (importer, imported,
    line) between modules of the package, at any depth of the file
    (functions included); private uses are (importer, "module.name", line)
    for a private name of another module taken by `from m import _x` or
    `m._x`."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    is_package = path.endswith("__init__.py")
    edges, private, bound = [], [], {}

    def add(target, line):
        if target and target != module:
            edges.append((module, target, line))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name, modules)
                add(target, node.lineno)
                if target:
                    if alias.asname:
                        bound[alias.asname] = target
                    else:  # `import a.b.c` binds `a`; attributes resolve below
                        bound.setdefault(alias.name.split(".")[0], alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            if not base.split(".")[0] == PACKAGE:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:  # `from package import submodule`
                    add(sub, node.lineno)
                    bound[alias.asname or alias.name] = sub
                    continue
                target = _known(base, modules)
                add(target, node.lineno)
                if target and target != module and _is_private(alias.name):
                    private.append((module, f"{target}.{alias.name}", node.lineno))
        elif isinstance(node, ast.Call) and _dotted(node.func) in ("importlib.import_module",
                                                                    "import_module"):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                add(_known(arg.value, modules), node.lineno)
            elif isinstance(arg, ast.JoinedStr) and arg.values and \
                    isinstance(arg.values[0], ast.Constant):
                # f"pkg.sub.{name}": may import any module under that prefix
                prefix = arg.values[0].value
                if prefix.startswith(PACKAGE + ".") and prefix.endswith("."):
                    for other in modules:
                        if other.startswith(prefix):
                            add(other, node.lineno)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        dotted = _dotted(node)
        if not dotted or dotted.split(".")[0] not in bound:
            continue
        head, *rest = dotted.split(".")
        target = bound[head]
        for attr in rest:
            if f"{target}.{attr}" in modules:
                target = f"{target}.{attr}"
                continue
            if target in modules and target != module and _is_private(attr):
                private.append((module, f"{target}.{attr}", node.lineno))
            break
    return edges, private


def import_graph(root=ROOT, package=PACKAGE):
    """(edges, private uses) for the whole package under `root`."""
    modules = module_files(root, package)
    edges, private = [], []
    for module, path in modules.items():
        e, p = read_imports(module, path, modules)
        edges += e
        private += p
    return edges, private


def find_cycle(edges):
    """One import cycle as a list of modules (first == last), or None."""
    graph = {}
    for a, b, _ in edges:
        graph.setdefault(a, set()).add(b)
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def crossings(edges, source, target):
    """Edges from a module under `source` to one under `target` (dotted
    package prefixes)."""
    def under(module, package):
        return module == package or module.startswith(package + ".")
    return sorted({(a, b, line) for a, b, line in edges if under(a, source) and under(b, target)})


def _where(edges):
    return "; ".join(f"{a} -> {b} (line {line})" for a, b, line in edges)


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_there_is_no_import_cycle(graph):
    edges, _ = graph
    assert len(edges) > 50  # the walk saw the package
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_beam_engine_never_imports_the_cli(graph):
    edges, _ = graph
    bad = crossings(edges, "vqkeras.beam", "vqkeras.cli")
    assert not bad, _where(bad)


def test_data_never_imports_evaluation(graph):
    edges, _ = graph
    bad = crossings(edges, "vqkeras.data", "vqkeras.evaluation")
    assert not bad, _where(bad)


def test_no_module_takes_another_modules_private_names(graph):
    _, private = graph
    assert not private, "; ".join(f"{m} uses {name} (line {line})" for m, name, line in private)


def test_usage_error_lives_apart_from_the_command_dispatcher():
    from vqkeras.cli.main import UsageError

    assert UsageError.__module__ != "vqkeras.cli.main"


def test_the_checks_catch_what_they_look_for(tmp_path):
    """A small package with each fault, imports inside functions included."""
    pkg = tmp_path / PACKAGE
    for sub in ("beam", "cli", "data", "evaluation"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from vqkeras import b\n")
    (pkg / "b.py").write_text("import vqkeras.c as c\nx = c._hidden\n")
    (pkg / "c.py").write_text("from vqkeras.a import f\n")
    (pkg / "beam" / "run.py").write_text("def go():\n    from vqkeras.cli.tool import _helper\n")
    (pkg / "cli" / "tool.py").write_text("def _helper():\n    pass\n")
    (pkg / "cli" / "main.py").write_text(
        "import importlib\ndef load(n):\n    return importlib.import_module(f'vqkeras.cli.{n}')\n")
    (pkg / "cli" / "other.py").write_text("from vqkeras.cli.main import load\n")
    (pkg / "data" / "set.py").write_text("from vqkeras.evaluation import metrics\n")
    (pkg / "evaluation" / "metrics.py").write_text("")
    edges, private = import_graph(str(tmp_path))
    cycle = find_cycle(edges)
    assert cycle and cycle[0] == cycle[-1]
    assert set(cycle) in ({"vqkeras.a", "vqkeras.b", "vqkeras.c"},
                          {"vqkeras.cli.main", "vqkeras.cli.other"})
    without_abc = [e for e in edges if e[0] not in ("vqkeras.a", "vqkeras.b", "vqkeras.c")]
    assert set(find_cycle(without_abc)) == {"vqkeras.cli.main", "vqkeras.cli.other"}
    assert crossings(edges, "vqkeras.beam", "vqkeras.cli") == [
        ("vqkeras.beam.run", "vqkeras.cli.tool", 2)]
    assert crossings(edges, "vqkeras.data", "vqkeras.evaluation") == [
        ("vqkeras.data.set", "vqkeras.evaluation.metrics", 1)]
    assert sorted(name for _, name, _ in private) == ["vqkeras.c._hidden",
                                                      "vqkeras.cli.tool._helper"]
