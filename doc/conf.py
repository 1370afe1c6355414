"""Sphinx configuration for sklearn-diffgen."""

import sklearn_diffgen

project = "sklearn-diffgen"
release = version = sklearn_diffgen.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.mathjax", "numpydoc"]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_theme = "pydata_sphinx_theme"
