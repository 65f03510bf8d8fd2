"""Sphinx configuration of the spikewise documentation.

Builds offline (no intersphinx), with warnings as errors (``make html`` passes ``-W``). The
gallery in ``examples/`` is executed at every build; ``SPIKEWISE_SIZE=small`` (``make
docs-small``) runs it at small sizes. The API reference is generated from each package's
``__all__`` (see ``_write_api_list`` below), so every public name is documented.
"""

import importlib
import os
import pkgutil
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
os.environ.setdefault("MPLBACKEND", "Agg")

import spikewise

project = "spikewise"
author = "spikewise developers"
copyright = "2026, spikewise developers"
version = release = spikewise.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints",
                    "auto_examples/*.ipynb", "auto_examples/*.py"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
nitpicky = False

# -- autodoc / autosummary / numpydoc ---------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"
autodoc_default_options = {"inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# -- HTML --------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "spikewise"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False

# -- sphinx-gallery ----------------------------------------------------------------------------
SIZE = os.environ.get("SPIKEWISE_SIZE", "full")
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_modules": ("matplotlib", "seaborn"),
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 1,
    "show_memory": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "matplotlib_animations": False,
}
warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")


# -- API list, generated from __all__ ----------------------------------------------------------
SECTIONS = [
    ("spikewise", "Top level",
     "The errors every function raises, and the command line. Activations and conventions "
     "are also importable from :mod:`spikewise` directly."),
    ("spikewise.activations", "Activations", "Activation and teacher functions, their "
     "derivatives and Hermite coefficients."),
    ("spikewise.conventions", "Conventions", "The one convention and the papers' presets."),
    ("spikewise.solvers", "Theory: spectral laws and spikes", "Limiting spectral laws, "
     "Stieltjes-transform solvers, outlier engines and the seed papers' predictions."),
    ("spikewise.spectra", "Simulation: steps, features and spectra", "Sampling, gradient "
     "steps, features, spectra, alignments and ridge."),
    ("spikewise.plot", "Plots", "Histograms over theory, theory-vs-simulation curves."),
    ("spikewise.sweep", "Sweeps", "Grids of parameters times seeds on dask.distributed, "
     "written to resumable xarray/zarr stores (see :doc:`sweeps`)."),
]


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:  # no __all__: what the module itself defines
        names = [n for n, obj in vars(module).items()
                 if getattr(obj, "__module__", None) == module.__name__]
    return [n for n in names if not n.startswith("_")]


def _submodules(package):
    if not hasattr(package, "__path__"):
        return []
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        try:
            found.append(importlib.import_module(f"{package.__name__}.{info.name}"))
        except Exception as exc:  # a module that does not import is a build error
            raise RuntimeError(f"cannot import {package.__name__}.{info.name}: {exc}") from exc
    return found


def _entries(modname):
    """(documented path, names) pairs of one section, each object listed once."""
    module = importlib.import_module(modname)
    entries = [(modname, _public_names(module))]
    exported = {id(getattr(module, n, None)) for n in entries[0][1]}
    for sub in _submodules(module):
        extra = [n for n in _public_names(sub)
                 if id(getattr(sub, n, None)) not in exported and hasattr(sub, n)]
        if extra:
            entries.append((sub.__name__, extra))
            exported |= {id(getattr(sub, n)) for n in extra}
    return entries


API_HEADER = """\
..
   This file is written by docs/conf.py from the packages' __all__ at every build;
   edit SECTIONS in conf.py, not this file.

API reference
=============

Every public class and function of spikewise, generated from the docstrings. The list is
built from each package's ``__all__`` when the documentation is built, so nothing public is
left out. Names are documented where users import them from: activations and conventions
from ``spikewise`` itself, laws and outlier engines from ``spikewise.solvers``, the simulator
from ``spikewise.spectra``, and the figures from ``spikewise.plot``.

"""


def _write_api_list():
    documented = set()
    blocks = []
    sub_objects = set()
    for modname, _, _ in SECTIONS[1:]:
        try:
            for path, names in _entries(modname):
                mod = importlib.import_module(path)
                sub_objects |= {id(getattr(mod, n)) for n in names if hasattr(mod, n)}
        except ImportError:
            continue
    for modname, heading, blurb in SECTIONS:
        try:
            entries = _entries(modname)
        except ImportError:
            continue
        lines = [heading, "-" * len(heading), "", blurb, ""]
        for path, names in entries:
            mod = importlib.import_module(path)
            if modname == "spikewise":
                names = [n for n in names if n != "__version__"
                         and id(getattr(mod, n, None)) not in sub_objects]
            names = [n for n in names if f"{path}.{n}" not in documented
                     and not isinstance(getattr(mod, n, None), type(sys))]
            if not names:
                continue
            documented |= {f"{path}.{n}" for n in names}
            lines += [f".. currentmodule:: {path}", "", ".. autosummary::",
                      "   :toctree: gen_modules/", "   :nosignatures:", ""]
            lines += [f"   {n}" for n in sorted(names, key=str.lower)]
            lines.append("")
        blocks.append("\n".join(lines))
    stubs = HERE / "gen_modules"
    if stubs.is_dir():  # drop stub pages of names that are no longer public
        for stub in stubs.glob("*.rst"):
            if stub.stem not in documented:
                stub.unlink()
    text = API_HEADER + "\n".join(blocks)
    target = HERE / "api.rst"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


_write_api_list()


# -- theory pages (written by the theory modules' authors) -------------------------------------
THEORY_ORDER = ["laws", "spikes", "one_step", "multi_spike", "risk"]


def _write_theory_toc():
    theory = HERE / "theory"
    pages = [p.stem for p in theory.glob("*.rst") if p.stem != "index"]
    ordered = [p for p in THEORY_ORDER if p in pages] + sorted(set(pages) - set(THEORY_ORDER))
    lines = [".. toctree::", "   :maxdepth: 2", ""] + [f"   {p}" for p in ordered]
    text = "\n".join(lines) + "\n"
    target = HERE / "gen_modules" / "theory_toc.inc"
    target.parent.mkdir(exist_ok=True)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


_write_theory_toc()
