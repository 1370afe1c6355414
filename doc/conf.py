"""Sphinx configuration for sklearn-diffgen: numpydoc API pages, user guide, sphinx-gallery examples.

Build from the repository root, with warnings as errors::

    python -m sphinx -W -b html doc doc/_build/html

``-D sphinx_gallery_conf.plot_gallery=0`` skips running the examples (the gallery pages then
have no pictures); it is the quick way to check the rest of the site.
"""

import os

# The gallery captures what the examples write to stderr as well: no progress bars there. tqdm
# reads TQDM_* defaults when it is imported, so this comes before the package's import.
os.environ.setdefault("TQDM_DISABLE", "1")

import sklearn_diffgen  # noqa: E402

project = "sklearn-diffgen"
author = "sklearn-diffgen developers"
copyright = "sklearn-diffgen developers"
release = version = sklearn_diffgen.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**/sg_execution_times.rst", "sg_execution_times.rst"]
default_role = "literal"

# -- API reference -------------------------------------------------------------------------
# Every name in a module's __all__ gets its own page (templates in _templates/autosummary).
autosummary_generate = True
autosummary_ignore_module_all = False
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Classes that a module re-exports at the top level get one page, under sklearn_diffgen.
autosummary_context = {"top_level": ["DiffusionSupervisedGenerator", "DiffusionSupervisedSampler", "TabularGenerator",
                                     "DiffusionOverSampler"]}

# -- Gallery ---------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # the README's command-line demo; the gallery holds the plot_*.py scripts
    "ignore_pattern": r"quickstart\.py",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklearn_diffgen",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"sklearn_diffgen": None},
    "show_memory": False,
    "min_reported_time": 1,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "write_computation_times": True,
}

# -- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-diffgen {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 5,
}
html_sidebars = {"index": []}
html_show_sourcelink = False
html_static_path = ["_static"]


def _benchmark_css(app, pagename, templatename, context, doctree):
    """The benchmark pages' stylesheet (_static/benchmarks.css: their header and wide tables)."""
    if pagename.startswith("benchmarks/"):
        app.add_css_file("benchmarks.css")


def setup(app):
    app.connect("html-page-context", _benchmark_css)
