# Sphinx configuration of the oasisgen documentation.
#
# Build it with (no network needed, warnings are errors):
#     .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
# The gallery examples run during the build in their fast mode; set
# OASISGEN_EXAMPLES_FAST=0 to run them at full size instead.

import os
import sys
from pathlib import Path

# Before anything imports TensorFlow or matplotlib: small thread pools, no display,
# quiet logs, and examples that train for an epoch or two.
os.environ.setdefault("OASISGEN_EXAMPLES_FAST", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

sys.path.insert(0, str(Path(__file__).parent / "sphinxext"))

import oasisgen  # noqa: E402

# -- Project -------------------------------------------------------------------------
project = "oasisgen"
author = "The oasisgen developers"
copyright = "The oasisgen developers"
release = oasisgen.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",  # renders CHANGELOG.md
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "sg_execution_times.rst"]
default_role = "literal"
pygments_style = "sphinx"

# Nothing is fetched while building: there is no intersphinx (references to NumPy,
# scikit-learn or Keras stay plain text), and no remote image, icon or font.

# -- API reference -------------------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections say the types, in words
autodoc_member_order = "bysource"
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- Example gallery -----------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "gallery_helpers.ExampleOrder",
    "image_scrapers": ("matplotlib", "gallery_helpers.scrape_figures"),
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("oasisgen",),
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "show_signature": False,
    "min_reported_time": 1,
    "only_warn_on_example_error": False,
    "abort_on_example_error": False,
    "matplotlib_animations": False,
    "write_computation_times": False,
}

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"oasisgen {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    # nothing that links to or loads from elsewhere
    "icon_links": [],
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
