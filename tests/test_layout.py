"""The layout of the package: old import paths, and imports in one direction only.

``cli -> search -> estimators -> metrics -> nn -> datasets``, with ``plotting``
and ``preprocessing`` beside ``datasets``: a package imports only the ones below
it (docs: ``DESIGN.md``, "Layers of the package"). ``oasisgen.parallel``,
``oasisgen.distribute`` and ``oasisgen.report`` moved into the packages and stay
importable as shims that re-export the same objects.
"""

import ast
import importlib
import pickle
from pathlib import Path

import pytest

import oasisgen

from .fresh_process import last_json_line, run_python

PACKAGE = Path(oasisgen.__file__).resolve().parent

# old public module -> (its new home, the public names the two share)
SHIMS = {
    "oasisgen.distribute": (
        "oasisgen.nn.distribute",
        [
            "DISTRIBUTE_OPTIONS",
            "TFConfigError",
            "is_chief",
            "make_strategy",
            "read_tf_config",
            "start_multi_worker",
            "writes_files",
        ],
    ),
    "oasisgen.parallel": (
        "oasisgen.search",
        [
            "available_cores",
            "configure_tensorflow",
            "connect",
            "threads_per_worker",
            "worker_environment",
        ],
    ),
    "oasisgen.report": ("oasisgen.cli", ["write_report"]),
}

# layer -> the layers it may import (directly; the allowed edges have no cycle)
ALLOWED = {
    "datasets": set(),
    "plotting": {"datasets"},
    "preprocessing": {"datasets"},
    "nn": {"datasets"},
    "metrics": {"datasets", "nn"},
    "estimators": {"datasets", "metrics", "nn", "preprocessing"},
    "search": {"datasets", "estimators"},
    "cli": {
        "datasets",
        "estimators",
        "metrics",
        "nn",
        "plotting",
        "preprocessing",
        "search",
    },
}
LAYERS = set(ALLOWED)
SHIM_LAYERS = {name.split(".")[1] for name in SHIMS}


# ------------------------------------------------------------------- the shims
@pytest.mark.parametrize("old", SHIMS)
def test_an_old_path_exposes_the_objects_of_the_new_one(old):
    new, names = SHIMS[old]
    old_module, new_module = map(importlib.import_module, (old, new))
    for name in names:
        assert getattr(old_module, name) is getattr(new_module, name), name
    assert set(names) <= set(old_module.__all__) <= set(dir(old_module))
    assert new in old_module.__doc__  # the docstring says where it went


def test_the_old_parallel_path_gives_the_dask_plugin_of_search():
    pytest.importorskip("distributed")
    import oasisgen.parallel
    import oasisgen.search

    plugin = oasisgen.parallel.TensorFlowWorkerPlugin
    assert plugin is oasisgen.search.TensorFlowWorkerPlugin
    assert plugin().name == "oasisgen-tensorflow"  # what Dask registers it under


@pytest.mark.parametrize(
    "old, name",
    [
        ("oasisgen.parallel", "worker_environment"),
        ("oasisgen.parallel", "available_cores"),
        ("oasisgen.distribute", "TFConfigError"),
        ("oasisgen.distribute", "make_strategy"),
        ("oasisgen.report", "write_report"),
    ],
)
def test_a_pickle_that_names_an_old_path_still_loads(old, name):
    # pickles name functions and classes by module and qualified name
    by_reference = b"c" + f"{old}\n{name}\n".encode() + b"."
    assert pickle.loads(by_reference) is getattr(importlib.import_module(old), name)


# ------------------------------------------------------ one direction of imports
def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "oasisgen" or len(parts) == 1:
        return None
    return parts[1]


def _imported_layers(path: Path) -> set[tuple[str, int]]:
    """Layers imported anywhere in a file (in functions too), with the line."""
    found = set()
    lazy = getattr(oasisgen, "_LAZY", {})
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "oasisgen":  # from oasisgen import nn, load, ...
                modules = [lazy.get(a.name, f"oasisgen.{a.name}") for a in node.names]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "oasisgen"
        ):
            # import oasisgen; oasisgen.load(...) reaches oasisgen.estimators
            modules = [lazy.get(node.attr, f"oasisgen.{node.attr}")]
        else:
            continue
        known = LAYERS | SHIM_LAYERS  # not oasisgen.__version__
        found |= {(_layer(m), node.lineno) for m in modules if _layer(m) in known}
    return found


def _package_files():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        layer = relative.parts[0].removesuffix(".py")
        yield layer, relative, path


def test_every_module_belongs_to_a_layer_of_the_design():
    top = {layer for layer, _, _ in _package_files()}
    # __main__ is `python -m oasisgen`, which only calls the cli
    assert top == LAYERS | SHIM_LAYERS | {"__init__", "__main__"}


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for layer, relative, path in _package_files():
        if layer not in LAYERS:
            continue  # oasisgen/__init__.py and the shims
        for imported, line in _imported_layers(path):
            if imported != layer and imported not in ALLOWED[layer]:
                wrong.append(f"oasisgen/{relative}:{line} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_nothing_in_the_package_imports_the_shims():
    users = [
        f"oasisgen/{relative}:{line}"
        for layer, relative, path in _package_files()
        if layer not in SHIM_LAYERS
        for imported, line in _imported_layers(path)
        if imported in SHIM_LAYERS
    ]
    assert not users, "\n".join(users)


def _imported_modules(path: Path):
    """Every ``oasisgen`` module a file imports (in functions too), with the line."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def test_no_layer_imports_a_private_module_of_another():
    # what one layer offers the others is its package or a public module
    # (oasisgen.datasets.validation), never an underscore module
    wrong = []
    for layer, relative, path in _package_files():
        for module, line in _imported_modules(path):
            parts = module.split(".")
            if parts[0] != "oasisgen" or len(parts) < 2 or parts[1] == layer:
                continue
            if any(part.startswith("_") for part in parts[2:]):
                wrong.append(f"oasisgen/{relative}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_a_private_name_of_another():
    # a name another module uses is part of what its module offers: no underscore
    # (private modules of one package share plain names, as search._parallel does)
    wrong = []
    for _, relative, path in _package_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level != 0:
                continue
            if not (node.module or "").startswith("oasisgen"):
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.endswith("__")
                if private:
                    where = f"oasisgen/{relative}:{node.lineno}"
                    wrong.append(f"{where} imports {alias.name} from {node.module}")
    assert not wrong, "\n".join(wrong)


def test_the_allowed_imports_have_no_cycle():
    done, visiting = set(), []

    def visit(layer):
        assert layer not in visiting, " -> ".join([*visiting, layer])
        if layer in done:
            return
        visiting.append(layer)
        for below in ALLOWED[layer]:
            visit(below)
        visiting.pop()
        done.add(layer)

    for layer in ALLOWED:
        visit(layer)


# imported bottom-up in one process: each import may load only the layers below
_IMPORT_ORDER = """
import importlib, json, sys

loaded = {}
for layer in ("datasets", "plotting", "preprocessing", "nn", "metrics",
              "estimators", "search", "cli"):
    importlib.import_module("oasisgen." + layer)
    loaded[layer] = sorted({
        name.split(".")[1] for name in sys.modules
        if name.startswith("oasisgen.") and not name.startswith("oasisgen._")
    })
print(json.dumps(loaded))
"""


def test_importing_a_layer_loads_no_layer_above_it():
    loaded = last_json_line(run_python(_IMPORT_ORDER).stdout)
    below = set()
    for layer, layers in loaded.items():
        below.add(layer)
        assert set(layers) <= below, f"importing oasisgen.{layer} loads {layers}"
