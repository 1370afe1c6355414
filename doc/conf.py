"""Sphinx configuration for sklearn-diffgen."""

import sklearn_diffgen

project = "sklearn-diffgen"
release = version = sklearn_diffgen.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.mathjax",
              "sphinx.ext.intersphinx", "numpydoc"]
autosummary_generate = True
numpydoc_show_class_members = False
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
}
exclude_patterns = ["_build"]
html_theme = "pydata_sphinx_theme"
